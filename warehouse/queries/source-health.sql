-- Per source: requests, successes, failures by reason, stored articles, latency and last success.
-- params: days=7
WITH recent AS (
    SELECT * FROM fetches
    WHERE fetched_at >= (SELECT max(fetched_at) FROM fetches) - to_days(CAST($days AS INTEGER))
),
per_source AS (
    SELECT source,
           count(*) AS requests,
           count(*) FILTER (WHERE error IS NULL) AS ok,
           count(*) FILTER (WHERE error IS NOT NULL) AS failed,
           round(100.0 * count(*) FILTER (WHERE error IS NULL) / count(*), 1) AS ok_pct,
           round(median(elapsed_ms) FILTER (WHERE error IS NULL)) AS median_ms,
           max(fetched_at) FILTER (WHERE error IS NULL) AS last_ok
    FROM recent GROUP BY source
),
reasons AS (
    SELECT source, string_agg(reason || ' ×' || n, '; ' ORDER BY n DESC) AS failure_reasons
    FROM (SELECT source, regexp_replace(error, '\s*\(retried\)$', '') AS reason, count(*) AS n
          FROM recent WHERE error IS NOT NULL GROUP BY ALL)
    GROUP BY source
),
stored AS (SELECT source, count(*) AS articles FROM articles GROUP BY source)
SELECT p.source, p.requests, p.ok, p.failed, p.ok_pct, coalesce(s.articles, 0) AS articles,
       p.median_ms, p.last_ok, r.failure_reasons
FROM per_source p
LEFT JOIN reasons r USING (source)
LEFT JOIN stored s USING (source)
ORDER BY p.source;
