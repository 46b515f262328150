-- akhbar warehouse, version 6: one row per story (a cluster of exact or near-duplicate articles).
CREATE OR REPLACE VIEW stories AS
SELECT coalesce(a.story_id, a.article_id) AS story_id,
       arg_min(a.title, coalesce(a.published_at, a.fetched_at)) AS headline,
       count(*) AS articles,
       count(DISTINCT a.source) AS sources,
       list(DISTINCT a.source ORDER BY a.source) AS source_list,
       min(coalesce(a.published_at, a.fetched_at)) AS first_published,
       max(coalesce(a.published_at, a.fetched_at)) AS last_published,
       list(a.url ORDER BY coalesce(a.published_at, a.fetched_at)) AS urls
FROM articles a
GROUP BY 1;
