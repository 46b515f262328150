-- Stories carried by more than one article (exact or near-duplicate copies), biggest first.
-- params: limit=20, min_copies=2
SELECT s.story_id,
       any_value(r.title) AS title,
       count(*) AS copies,
       count(DISTINCT s.source) AS sources,
       string_agg(DISTINCT s.source, ', ' ORDER BY s.source) AS source_list,
       min(coalesce(s.published_at, s.fetched_at)) AS first_published,
       max(coalesce(s.published_at, s.fetched_at)) AS last_published,
       list(s.url ORDER BY coalesce(s.published_at, s.fetched_at)) AS urls
FROM articles s
LEFT JOIN articles r ON r.article_id = s.story_id
GROUP BY s.story_id
HAVING count(*) >= CAST($min_copies AS INTEGER)
ORDER BY copies DESC, first_published DESC
LIMIT CAST($limit AS INTEGER);
