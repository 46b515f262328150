-- akhbar warehouse, version 10: source health and story clusters defined once, as table macros over a time
-- window, read by the views below, the named queries source-health and stories, and `akhbar report`.
-- since, until: the window's first instant and the instant after it; NULL leaves that side open.

-- Per source (NULL for fetches of no source): fetch outcomes and latency of the successful ones.
CREATE OR REPLACE MACRO fetch_health(since, until) AS TABLE
SELECT source,
       count(*) AS requests,
       count(*) FILTER (WHERE error IS NULL) AS ok,
       count(*) FILTER (WHERE error IS NOT NULL) AS failed,
       median(elapsed_ms) FILTER (WHERE error IS NULL) AS median_ms,
       quantile_cont(elapsed_ms, 0.9) FILTER (WHERE error IS NULL) AS p90_ms,
       max(fetched_at) FILTER (WHERE error IS NULL) AS last_ok,
       max(fetched_at) FILTER (WHERE error IS NOT NULL) AS last_failure,
       arg_max(error, fetched_at) FILTER (WHERE error IS NOT NULL) AS last_error,
       max(fetched_at) AS last_request
FROM fetches
WHERE (since IS NULL OR fetched_at >= since) AND (until IS NULL OR fetched_at < until)
GROUP BY source;

-- Failed fetches per source and error (every attempt, retried ones included).
CREATE OR REPLACE MACRO fetch_failures(since, until) AS TABLE
SELECT source, error AS reason, count(*) AS n
FROM fetches
WHERE error IS NOT NULL AND (since IS NULL OR fetched_at >= since) AND (until IS NULL OR fetched_at < until)
GROUP BY ALL;

-- One row per story (a cluster of exact or near-duplicate articles) among the articles published in the window
-- (fetched, when the publication date is unknown).
CREATE OR REPLACE MACRO story_groups(since, until) AS TABLE
WITH dated AS (
    SELECT coalesce(story_id, article_id) AS story, story_id, source, title, url,
           coalesce(published_at, fetched_at) AS at
    FROM articles
    WHERE (since IS NULL OR coalesce(published_at, fetched_at) >= since)
      AND (until IS NULL OR coalesce(published_at, fetched_at) < until)
)
SELECT d.story AS story_id,
       any_value(r.title) AS story_title,               -- of the story's first stored copy
       arg_min(d.title, d.at) AS headline,              -- of its first published copy
       count(*) AS copies, count(DISTINCT d.source) AS sources,
       list(DISTINCT d.source ORDER BY d.source) AS source_list,
       min(d.at) AS first_published, max(d.at) AS last_published, list(d.url ORDER BY d.at) AS urls
FROM dated d
LEFT JOIN articles r ON r.article_id = d.story_id
GROUP BY d.story;

-- The views of versions 4 and 6, with the same columns, now read from the macros.
CREATE OR REPLACE VIEW source_health AS
SELECT n.source,
       coalesce(f.requests, 0) AS requests, coalesce(f.ok, 0) AS ok, coalesce(f.failed, 0) AS failed,
       CASE WHEN f.requests > 0 THEN round(100.0 * f.ok / f.requests, 1) END AS ok_pct,
       coalesce(a.articles, 0) AS articles,
       f.last_ok, f.last_failure, f.last_error, a.newest_article, f.last_request
FROM (SELECT name AS source FROM sources UNION SELECT source FROM fetches WHERE source IS NOT NULL) n
LEFT JOIN fetch_health(NULL, NULL) f USING (source)
LEFT JOIN (SELECT source, count(*) AS articles, max(coalesce(published_at, fetched_at)) AS newest_article
           FROM articles GROUP BY source) a USING (source);

CREATE OR REPLACE VIEW stories AS
SELECT story_id, headline, copies AS articles, sources, source_list, first_published, last_published, urls
FROM story_groups(NULL, NULL);
