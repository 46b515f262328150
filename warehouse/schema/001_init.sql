-- akhbar warehouse, version 1: the tables of docs/ARCHITECTURE.md, section 3.

CREATE TABLE sources (
    name                VARCHAR PRIMARY KEY,
    homepage            VARCHAR,
    feeds               VARCHAR[],
    sitemaps            VARCHAR[],
    max_articles        INTEGER,
    requests_per_second DOUBLE,
    max_concurrency     INTEGER,
    timezone            VARCHAR,
    updated_at          TIMESTAMPTZ
);

CREATE TABLE articles (
    article_id         VARCHAR PRIMARY KEY,   -- hex SHA-256 of the canonical URL
    url                VARCHAR NOT NULL,      -- canonical IRI
    source             VARCHAR NOT NULL,      -- the first source that stored it
    title              VARCHAR,
    author             VARCHAR,
    published_at       TIMESTAMPTZ,
    language           VARCHAR,
    text               VARCHAR,
    content_hash       VARCHAR,               -- hex SHA-256 of the normalised text
    fetched_at         TIMESTAMPTZ,
    credit             VARCHAR,               -- agency credit such as (وكالات)
    description        VARCHAR,
    categories         VARCHAR[],
    tags               VARCHAR[],
    image              VARCHAR,
    modified_at        TIMESTAMPTZ,
    published_evidence VARCHAR,               -- jsonld, meta, feed, text, ...
    final_url          VARCHAR,               -- after redirects
    ner_backend        VARCHAR,               -- null when the article was not tagged (not Arabic)
    first_stored_at    TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ,
    run_id             VARCHAR                -- the run that stored this version
);

CREATE TABLE mentions (
    article_id  VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,             -- PERS, LOC, ORG, MISC
    text        VARCHAR NOT NULL,             -- as written
    canonical   VARCHAR NOT NULL,             -- normalised form used for grouping
    start       INTEGER NOT NULL,             -- 0-based Python string index into articles.text
    "end"       INTEGER NOT NULL,             -- exclusive
    backend     VARCHAR NOT NULL
);

CREATE TABLE entities (
    canonical     VARCHAR NOT NULL,
    entity_type   VARCHAR NOT NULL,
    display       VARCHAR,                    -- the most frequent written form
    first_seen    TIMESTAMPTZ,
    last_seen     TIMESTAMPTZ,
    mention_count BIGINT,
    article_count BIGINT,
    PRIMARY KEY (canonical, entity_type)
);

CREATE TABLE fetches (
    url          VARCHAR NOT NULL,
    source       VARCHAR,
    kind         VARCHAR,                     -- article, feed, sitemap
    status       INTEGER,                     -- HTTP status, null when there was no response
    error        VARCHAR,                     -- null when fine
    fetched_at   TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR,
    elapsed_ms   DOUBLE,
    final_url    VARCHAR,
    content_type VARCHAR,
    bytes        BIGINT
);

CREATE TABLE runs (
    run_id      VARCHAR PRIMARY KEY,          -- the Prefect flow-run id
    flow        VARCHAR,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    discovered  INTEGER,
    fetched     INTEGER,
    stored      INTEGER,
    failed      INTEGER,
    status      VARCHAR,
    parameters  VARCHAR                       -- JSON
);

CREATE INDEX mentions_article ON mentions (article_id);
CREATE INDEX fetches_url ON fetches (url);
