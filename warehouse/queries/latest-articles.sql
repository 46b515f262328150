-- The newest articles with the people, places and organisations they mention, as written (view article_entities).
-- params: limit=20, source=
SELECT published_at, source, title, person_names AS persons, location_names AS locations,
       organization_names AS organizations
FROM article_entities
WHERE ($source = '' OR source = $source)
ORDER BY coalesce(published_at, TIMESTAMPTZ '1970-01-01') DESC, title
LIMIT CAST($limit AS INTEGER);
