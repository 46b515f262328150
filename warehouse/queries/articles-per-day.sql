-- Articles per UTC day of publication (fetch day when the date is unknown) and source.
-- params: days=30, source=
SELECT CAST(timezone('UTC', coalesce(published_at, fetched_at)) AS DATE) AS day, source, count(*) AS articles
FROM articles
WHERE ($source = '' OR source = $source)
  AND coalesce(published_at, fetched_at) >= (SELECT max(coalesce(published_at, fetched_at)) FROM articles)
      - to_days(CAST($days AS INTEGER))
GROUP BY ALL
ORDER BY day DESC, source;
