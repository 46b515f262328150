-- Entities mentioned in the articles stored by one run (default: the latest run).
-- params: run_id=, limit=20
SELECT m.canonical AS entity, m.entity_type AS type, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
FROM mentions m JOIN articles a USING (article_id)
WHERE a.run_id = CASE WHEN $run_id = '' THEN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1) ELSE $run_id END
GROUP BY ALL
ORDER BY mentions DESC, entity
LIMIT CAST($limit AS INTEGER);
