-- akhbar warehouse, version 2: near-duplicate story clusters and the raw page archive.

ALTER TABLE articles ADD COLUMN minhash BLOB;         -- 64 MinHash values of the normalised text's 3-shingles
ALTER TABLE articles ADD COLUMN story_id VARCHAR;     -- article_id of the first stored copy of the same story

-- LSH bands of the MinHash signature: near duplicates share at least one band key.
CREATE TABLE story_bands (
    article_id VARCHAR NOT NULL,
    band       TINYINT NOT NULL,
    key        BIGINT NOT NULL
);
CREATE INDEX story_bands_article ON story_bands (article_id);

-- Every stored article's fetched HTML, zlib-compressed, so `akhbar reprocess` can re-extract and re-tag
-- without fetching. One row per article: the latest fetch.
CREATE TABLE raw_pages (
    article_id        VARCHAR PRIMARY KEY,
    url               VARCHAR NOT NULL,
    source            VARCHAR,
    final_url         VARCHAR,
    fetched_at        TIMESTAMPTZ,
    status            INTEGER,
    content_type      VARCHAR,
    encoding          VARCHAR,
    hint_published_at TIMESTAMPTZ,
    html_zlib         BLOB NOT NULL
);
