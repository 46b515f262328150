-- Articles that mention one entity, newest first, with how often; name = canonical or any written form.
-- params: name=, type=, limit=20
-- required: name
WITH wanted AS (
    SELECT DISTINCT canonical, entity_type
    FROM mentions
    WHERE (canonical = trim($name) OR text = trim($name)
           OR canonical = regexp_replace(translate(trim($name), 'أإآٱىة', 'اااايه'), '[\x{0610}-\x{061A}\x{064B}-\x{065F}\x{0670}\x{0640}]', '', 'g'))
      AND ($type = '' OR entity_type = upper($type))
)
SELECT a.published_at, a.source, a.title, count(*) AS mentions, a.url
FROM mentions m
JOIN wanted w ON m.canonical = w.canonical AND m.entity_type = w.entity_type
JOIN articles a ON a.article_id = m.article_id
GROUP BY a.article_id, a.published_at, a.fetched_at, a.source, a.title, a.url
ORDER BY coalesce(a.published_at, a.fetched_at) DESC, mentions DESC
LIMIT CAST($limit AS INTEGER);
