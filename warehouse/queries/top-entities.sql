-- Most mentioned entities (spelling variants merged, shown as most often written), optionally of one type and since a day.
-- params: limit=20, type=, since=1970-01-01
SELECT coalesce(display, canonical) AS display, canonical AS entity, entity_type AS type,
       mention_count AS mentions, article_count AS articles, first_seen, last_seen
FROM entities
WHERE ($type = '' OR entity_type = upper($type))
  AND coalesce(last_seen, TIMESTAMPTZ '1970-01-01') >= CAST($since AS DATE)
ORDER BY mention_count DESC, article_count DESC, canonical
LIMIT CAST($limit AS INTEGER);
