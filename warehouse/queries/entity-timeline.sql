-- Mentions of one entity per UTC day (days in between show 0); name = its canonical form, any written form or variant.
-- params: name=, type=
-- required: name
WITH wanted AS (
    SELECT * FROM entities_named($name, $type)
),
per_article AS (
    SELECT CAST(timezone('UTC', coalesce(a.published_at, a.fetched_at)) AS DATE) AS day,
           m.article_id, any_value(a.title) AS title, count(*) AS n
    FROM mentions m
    JOIN wanted w ON m.canonical = w.canonical AND m.entity_type = w.entity_type
    JOIN articles a ON a.article_id = m.article_id
    GROUP BY ALL
),
per_day AS (
    SELECT day, sum(n) AS mentions, count(*) AS articles, arg_max(title, n) AS top_article
    FROM per_article
    GROUP BY day
),
days AS (
    SELECT CAST(unnest(generate_series(min(day), max(day), INTERVAL 1 DAY)) AS DATE) AS day FROM per_day
)
SELECT d.day, coalesce(p.mentions, 0) AS mentions, coalesce(p.articles, 0) AS articles, p.top_article
FROM days d
LEFT JOIN per_day p USING (day)
ORDER BY d.day;
