-- Entities mentioned in the articles stored by one run (default: the latest run), variants merged.
-- params: run_id=, limit=20
SELECT coalesce(any_value(e.display), em.entity) AS display, em.entity, em.entity_type AS type,
       count(*) AS mentions, count(DISTINCT em.article_id) AS articles
FROM entity_mentions em
JOIN articles a USING (article_id)
LEFT JOIN entities e ON e.canonical = em.entity AND e.entity_type = em.entity_type
WHERE a.run_id = CASE WHEN $run_id = '' THEN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1) ELSE $run_id END
GROUP BY em.entity, em.entity_type
ORDER BY mentions DESC, em.entity
LIMIT CAST($limit AS INTEGER);
