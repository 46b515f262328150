-- akhbar warehouse, version 4: views for the common questions (docs/ARCHITECTURE.md, section 3).
-- Views hold no data: they are recomputed on every read, so they are always current and cost nothing to keep.
-- Days are UTC days of publication (the fetch day when the publication date is unknown).

-- One row per article with the canonical names of its entities, most mentioned first, per type.
CREATE OR REPLACE VIEW article_entities AS
WITH per_entity AS (
    SELECT article_id, entity_type, canonical, count(*) AS n
    FROM mentions
    GROUP BY article_id, entity_type, canonical
),
per_article AS (
    SELECT article_id,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'PERS') AS persons,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'LOC') AS locations,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'ORG') AS organizations,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'MISC') AS misc,
           sum(n) AS mentions
    FROM per_entity
    GROUP BY article_id
)
SELECT a.article_id, a.source, a.published_at,
       CAST(timezone('UTC', coalesce(a.published_at, a.fetched_at)) AS DATE) AS day,
       a.title, a.url,
       coalesce(p.persons, []::VARCHAR[]) AS persons,
       coalesce(p.locations, []::VARCHAR[]) AS locations,
       coalesce(p.organizations, []::VARCHAR[]) AS organizations,
       coalesce(p.misc, []::VARCHAR[]) AS misc,
       coalesce(p.mentions, 0) AS mentions
FROM articles a
LEFT JOIN per_article p USING (article_id);

-- Mentions and articles per UTC day and entity.
CREATE OR REPLACE VIEW daily_entity_counts AS
SELECT CAST(timezone('UTC', coalesce(a.published_at, a.fetched_at)) AS DATE) AS day,
       m.canonical,
       m.entity_type,
       count(*) AS mentions,
       count(DISTINCT m.article_id) AS articles
FROM mentions m
JOIN articles a USING (article_id)
GROUP BY ALL;

-- Per source (every configured source, and any source seen in the fetch log): requests, failures, last success.
CREATE OR REPLACE VIEW source_health AS
WITH names AS (
    SELECT name AS source FROM sources
    UNION
    SELECT DISTINCT source FROM fetches WHERE source IS NOT NULL
),
f AS (
    SELECT source,
           count(*) AS requests,
           count(*) FILTER (WHERE error IS NULL) AS ok,
           count(*) FILTER (WHERE error IS NOT NULL) AS failed,
           max(fetched_at) FILTER (WHERE error IS NULL) AS last_ok,
           max(fetched_at) FILTER (WHERE error IS NOT NULL) AS last_failure,
           arg_max(error, fetched_at) FILTER (WHERE error IS NOT NULL) AS last_error,
           max(fetched_at) AS last_request
    FROM fetches
    GROUP BY source
),
a AS (
    SELECT source, count(*) AS articles, max(coalesce(published_at, fetched_at)) AS newest_article
    FROM articles
    GROUP BY source
)
SELECT n.source,
       coalesce(f.requests, 0) AS requests,
       coalesce(f.ok, 0) AS ok,
       coalesce(f.failed, 0) AS failed,
       CASE WHEN f.requests > 0 THEN round(100.0 * f.ok / f.requests, 1) END AS ok_pct,
       coalesce(a.articles, 0) AS articles,
       f.last_ok,
       f.last_failure,
       f.last_error,
       a.newest_article,
       f.last_request
FROM names n
LEFT JOIN f USING (source)
LEFT JOIN a USING (source);
