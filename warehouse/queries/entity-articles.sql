-- Articles that mention one entity, newest first, with how often; name = canonical, any written form or variant.
-- params: name=, type=, limit=20
-- required: name
WITH wanted AS (
    SELECT * FROM entities_named($name, $type)
)
SELECT a.published_at, a.source, a.title, count(*) AS mentions, a.url
FROM mentions m
JOIN wanted w ON m.canonical = w.canonical AND m.entity_type = w.entity_type
JOIN articles a ON a.article_id = m.article_id
GROUP BY a.article_id, a.published_at, a.fetched_at, a.source, a.title, a.url
ORDER BY coalesce(a.published_at, a.fetched_at) DESC, mentions DESC
LIMIT CAST($limit AS INTEGER);
