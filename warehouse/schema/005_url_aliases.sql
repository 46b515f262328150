-- akhbar warehouse, version 5: other URLs under which a stored article was found.
-- A page whose <link rel="canonical"> names another URL of the same site is stored under that canonical URL;
-- the URL it was discovered and fetched under is kept here, so later runs know it is already stored.

CREATE TABLE url_aliases (
    alias_id   VARCHAR PRIMARY KEY,   -- hex SHA-256 of the alias URL (same scheme as articles.article_id)
    url        VARCHAR NOT NULL,
    article_id VARCHAR NOT NULL
);
