-- Entities mentioned in the same articles as one entity, with how many articles they share (variants merged).
-- params: name=, type=, limit=20
-- required: name
WITH wanted AS (
    SELECT DISTINCT entity, entity_type FROM entities_named($name, '')
),
its_articles AS (
    SELECT DISTINCT em.article_id
    FROM entity_mentions em
    JOIN wanted w ON em.entity = w.entity AND em.entity_type = w.entity_type
),
others AS (
    SELECT em.entity, em.entity_type, em.article_id, count(*) AS n
    FROM entity_mentions em
    JOIN its_articles USING (article_id)
    WHERE NOT EXISTS (SELECT 1 FROM wanted w WHERE w.entity = em.entity)
      AND ($type = '' OR em.entity_type = upper($type))
    GROUP BY ALL
)
SELECT coalesce(any_value(e.display), o.entity) AS display, o.entity, o.entity_type AS type,
       count(*) AS shared_articles, sum(o.n) AS mentions_there,
       round(count(*) / (SELECT count(*) FROM its_articles), 2) AS share
FROM others o
LEFT JOIN entities e ON e.canonical = o.entity AND e.entity_type = o.entity_type
GROUP BY o.entity, o.entity_type
ORDER BY shared_articles DESC, mentions_there DESC, o.entity
LIMIT CAST($limit AS INTEGER);
