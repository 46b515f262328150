-- Entities mentioned in the same articles as one entity, with how many articles they share.
-- params: name=, type=, limit=20
-- required: name
WITH wanted AS (
    SELECT * FROM entities_named($name, '')
),
its_articles AS (
    SELECT DISTINCT m.article_id
    FROM mentions m
    JOIN wanted w ON m.canonical = w.canonical AND m.entity_type = w.entity_type
),
others AS (
    SELECT m.canonical, m.entity_type, m.article_id, count(*) AS n
    FROM mentions m
    JOIN its_articles USING (article_id)
    WHERE NOT EXISTS (SELECT 1 FROM wanted w WHERE w.canonical = m.canonical)
      AND ($type = '' OR m.entity_type = upper($type))
    GROUP BY ALL
)
SELECT o.canonical AS entity, o.entity_type AS type, any_value(e.display) AS display,
       count(*) AS shared_articles, sum(o.n) AS mentions_there,
       round(count(*) / (SELECT count(*) FROM its_articles), 2) AS share
FROM others o
LEFT JOIN entities e ON e.canonical = o.canonical AND e.entity_type = o.entity_type
GROUP BY o.canonical, o.entity_type
ORDER BY shared_articles DESC, mentions_there DESC, entity
LIMIT CAST($limit AS INTEGER);
