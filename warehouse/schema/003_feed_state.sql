-- akhbar warehouse, version 3: conditional GET state of feeds and sitemaps (extractors/feed_state.py).
-- One row per feed or sitemap URL (canonical): the validators the server gave last time and a hash of the
-- body, so an unchanged feed costs one small request (304) or, for servers that ignore conditional headers,
-- is recognised by its hash.

CREATE TABLE IF NOT EXISTS feed_state (
    url           VARCHAR PRIMARY KEY,        -- canonical feed or sitemap URL
    etag          VARCHAR,                    -- ETag of the last full answer (sent back as If-None-Match)
    last_modified VARCHAR,                    -- Last-Modified of the last full answer (If-Modified-Since)
    body_sha256   VARCHAR,                    -- hex SHA-256 of the last body as received
    checked_at    TIMESTAMPTZ                 -- when it was last fetched successfully (200 or 304)
);
