-- Per source: requests, successes, failures by reason, stored articles, latency and last success.
-- params: days=7
WITH since AS (SELECT max(fetched_at) - to_days(CAST($days AS INTEGER)) AS t FROM fetches),
per_source AS (
    SELECT source, requests, ok, failed, round(100.0 * ok / requests, 1) AS ok_pct, round(median_ms) AS median_ms,
           last_ok
    FROM fetch_health((SELECT t FROM since), NULL)
),
reasons AS (
    SELECT source, string_agg(reason || ' ×' || n, '; ' ORDER BY n DESC, reason) AS failure_reasons
    FROM fetch_failures((SELECT t FROM since), NULL)
    GROUP BY source
),
stored AS (SELECT source, count(*) AS articles FROM articles GROUP BY source)
SELECT p.source, p.requests, p.ok, p.failed, p.ok_pct, coalesce(s.articles, 0) AS articles,
       p.median_ms, p.last_ok, r.failure_reasons
FROM per_source p
LEFT JOIN reasons r USING (source)
LEFT JOIN stored s USING (source)
ORDER BY p.source;
