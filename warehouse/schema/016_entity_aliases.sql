-- akhbar warehouse, version 16: one entity, many spellings (issue 15 item 5; warehouse/aliases.py).
--
-- Keys. A mention's `canonical` is its grouping key (extractors/entities/canon.py; within an article a later
-- short person name already carries the full name's key: «بلير» after «توني بلير»). `entity_aliases` maps the key
-- of a spelling variant to the key of the entity it belongs to («ترمب» -> «ترامب»), for every entity type. The
-- merged entity's key (`entity` below) is the alias target when the mention's key is a variant, else its own
-- key. A target is never itself a variant (warehouse/aliases.py keeps the table flat), so one join resolves it.
--
-- Display form: the one definition of the name a person reads (macros entity_form_rank and entity_rows, stored
-- in entities.display, which every query and view reads). Of the forms written for
-- the merged entity, the most frequent among those written in full and without clitics (the form normalises to
-- its own mention key), else among those written in full (a clitic attached: «لسوريا»), else of all; ties go to
-- the alphabetically first. So «الأمم المتحدة» is shown, never the key «الامم المتحده», and «توني بلير» rather
-- than the shorter «بلير» that refers to him later in the same articles.

CREATE TABLE IF NOT EXISTS entity_aliases (
    variant           VARCHAR PRIMARY KEY,    -- canonical key of the variant spelling
    canonical         VARCHAR NOT NULL,       -- canonical key of the entity it merges into (never a variant)
    variant_written   VARCHAR,                -- the variant as the user or the starter list wrote it
    canonical_written VARCHAR,                -- the target as written
    origin            VARCHAR NOT NULL,       -- 'starter' (shipped: warehouse/entity_aliases.tsv) or 'user'
    added_at          TIMESTAMPTZ NOT NULL
);

-- BEGIN starter aliases (generated from warehouse/entity_aliases.tsv: python -m warehouse.aliases --starter-sql)
INSERT OR IGNORE INTO entity_aliases VALUES
    ('ترمب', 'ترامب', 'ترمب', 'ترامب', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('ترمپ', 'ترامب', 'ترمپ', 'ترامب', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('دونالد ترمب', 'دونالد ترامب', 'دونالد ترمب', 'دونالد ترامب', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('بوتن', 'بوتين', 'بوتن', 'بوتين', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('فلاديمير بوتن', 'فلاديمير بوتين', 'فلاديمير بوتن', 'فلاديمير بوتين', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('بايدين', 'بايدن', 'بايدين', 'بايدن', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('جو بايدين', 'جو بايدن', 'جو بايدين', 'جو بايدن', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('نتانياهو', 'نتنياهو', 'نتانياهو', 'نتنياهو', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('بنيامين نتانياهو', 'بنيامين نتنياهو', 'بنيامين نتانياهو', 'بنيامين نتنياهو', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('ميركيل', 'ميركل', 'ميركيل', 'ميركل', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('انغيلا ميركيل', 'انغيلا ميركل', 'أنغيلا ميركيل', 'أنغيلا ميركل', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('انجيلا ميركل', 'انغيلا ميركل', 'أنجيلا ميركل', 'أنغيلا ميركل', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('زيلنسكي', 'زيلينسكي', 'زيلنسكي', 'زيلينسكي', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('فولوديمير زيلنسكي', 'فولوديمير زيلينسكي', 'فولوديمير زيلنسكي', 'فولوديمير زيلينسكي', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('بلنكن', 'بلينكن', 'بلنكن', 'بلينكن', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('انتوني بلنكن', 'انتوني بلينكن', 'أنتوني بلنكن', 'أنتوني بلينكن', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('غوتيريس', 'غوتيريش', 'غوتيريس', 'غوتيريش', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('جوتيريش', 'غوتيريش', 'جوتيريش', 'غوتيريش', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('انطونيو غوتيريس', 'انطونيو غوتيريش', 'أنطونيو غوتيريس', 'أنطونيو غوتيريش', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('انطونيو جوتيريش', 'انطونيو غوتيريش', 'أنطونيو جوتيريش', 'أنطونيو غوتيريش', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('شولز', 'شولتس', 'شولز', 'شولتس', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('اولاف شولز', 'اولاف شولتس', 'أولاف شولز', 'أولاف شولتس', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('هيلاري كلنتون', 'هيلاري كلينتون', 'هيلاري كلنتون', 'هيلاري كلينتون', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('كيم جونج اون', 'كيم جونغ اون', 'كيم جونج أون', 'كيم جونغ أون', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('حسن نصرالله', 'حسن نصر الله', 'حسن نصرالله', 'حسن نصر الله', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('نصرالله', 'نصر الله', 'نصرالله', 'نصر الله', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('عبدالله الثاني', 'عبد الله الثاني', 'عبدالله الثاني', 'عبد الله الثاني', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('بيل جيتس', 'بيل غيتس', 'بيل جيتس', 'بيل غيتس', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('الولايات المتحده الاميركيه', 'الولايات المتحده الامريكيه', 'الولايات المتحدة الأميركية', 'الولايات المتحدة الأمريكية', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('اميركا', 'امريكا', 'أميركا', 'أمريكا', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('واشنطون', 'واشنطن', 'واشنطون', 'واشنطن', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('نيو يورك', 'نيويورك', 'نيو يورك', 'نيويورك', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('جينيف', 'جنيف', 'جينيف', 'جنيف', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('هونج كونج', 'هونغ كونغ', 'هونج كونج', 'هونغ كونغ', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('جوجل', 'غوغل', 'جوجل', 'غوغل', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('فيس بوك', 'فيسبوك', 'فيس بوك', 'فيسبوك', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('ميكروسوفت', 'مايكروسوفت', 'ميكروسوفت', 'مايكروسوفت', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00'),
    ('يو تيوب', 'يوتيوب', 'يو تيوب', 'يوتيوب', 'starter', TIMESTAMPTZ '2026-11-29 00:00:00+00');
-- END starter aliases

-- Every mention with the key of the merged entity it belongs to.
CREATE OR REPLACE VIEW entity_mentions AS
SELECT m.*, coalesce(al.canonical, m.canonical) AS entity
FROM mentions m
LEFT JOIN entity_aliases al ON al.variant = m.canonical;

-- The rank of one written form of a mention key in the display rule above: 0 written in full without clitics
-- (it normalises to the key), 1 written in full (as many words as the key), 2 shortened («بلير» for «توني بلير»).
CREATE OR REPLACE MACRO entity_form_rank(text, canonical) AS
    CASE WHEN lower(akhbar_normalize(trim(text))) = canonical THEN 0
         WHEN len(regexp_split_to_array(trim(text), '\s+')) >= len(regexp_split_to_array(canonical, '\s+')) THEN 1
         ELSE 2 END;

-- The rows of the `entities` table (same columns, same order) for the merged entities named by the parallel
-- lists `keys` (merged keys) and `types`, or for every entity when both are NULL. The filter comes first so a
-- load refreshing its entities reads only their mentions; the rank is computed once per distinct written form.
CREATE OR REPLACE MACRO entity_rows(keys, types) AS TABLE
WITH wanted AS (
    SELECT unnest(keys) AS entity, unnest(types) AS entity_type
),
em AS (
    SELECT em.article_id, em.entity_type, em.text, em.canonical, em.entity
    FROM entity_mentions em
    WHERE keys IS NULL OR (em.entity, em.entity_type) IN (SELECT entity, entity_type FROM wanted)
),
forms AS (
    SELECT entity, entity_type, text, canonical, count(*) AS n
    FROM em
    GROUP BY ALL
),
ranked AS (
    SELECT entity, entity_type, text, min(entity_form_rank(text, canonical)) AS rank, sum(n) AS n
    FROM forms
    GROUP BY entity, entity_type, text
),
display AS (
    SELECT entity, entity_type, first(text ORDER BY rank, n DESC, text) AS display
    FROM ranked
    GROUP BY entity, entity_type
),
counts AS (
    SELECT em.entity, em.entity_type,
           min(coalesce(a.published_at, a.fetched_at)) AS first_seen,
           max(coalesce(a.published_at, a.fetched_at)) AS last_seen,
           count(*) AS mention_count,
           count(DISTINCT em.article_id) AS article_count
    FROM em
    JOIN articles a USING (article_id)
    GROUP BY em.entity, em.entity_type
)
SELECT c.entity AS canonical, c.entity_type, d.display, c.first_seen, c.last_seen, c.mention_count,
       c.article_count
FROM counts c
JOIN display d USING (entity, entity_type);

-- Every merged entity computed from the mentions now: what the `entities` table holds (the loader refreshes the
-- rows a load touches with warehouse/aliases.py refresh_entities; `akhbar entities alias` those it changes).
CREATE OR REPLACE VIEW entity_summary AS
SELECT * FROM entity_rows(CAST(NULL AS VARCHAR[]), CAST(NULL AS VARCHAR[]));

-- Which entities a name the user typed means (migration 11), now by merged entity: the name matches a mention
-- key, a written form, the normalisation of either, or an alias variant; the macro returns every mention key
-- (`canonical`) of the merged entities matched, so queries joining on mentions.canonical count them all.
CREATE OR REPLACE MACRO entities_named(name, type) AS TABLE
    WITH typed AS (
        SELECT trim(name) AS k UNION SELECT akhbar_normalize(trim(name))
    ),
    keys AS (
        SELECT k FROM typed
        UNION
        SELECT al.canonical FROM entity_aliases al JOIN typed ON al.variant = typed.k
    ),
    wanted AS (
        SELECT DISTINCT em.entity, em.entity_type
        FROM entity_mentions em
        WHERE (em.canonical IN (SELECT k FROM keys) OR em.entity IN (SELECT k FROM keys) OR em.text = trim(name))
          AND (type = '' OR em.entity_type = upper(type))
    )
    SELECT DISTINCT em.canonical, em.entity_type, em.entity
    FROM entity_mentions em
    JOIN wanted w ON em.entity = w.entity AND em.entity_type = w.entity_type;

-- Migration 4's views, grouped by merged entity: `persons` ... `misc` hold merged keys (as before: canonical
-- forms), the new `person_names` ... `misc_names` their display forms (entities.display), in the same order.
CREATE OR REPLACE VIEW article_entities AS
WITH counted AS (
    SELECT article_id, entity_type, entity AS canonical, count(*) AS n
    FROM entity_mentions
    GROUP BY article_id, entity_type, entity
),
per_entity AS (
    SELECT c.*, coalesce(e.display, c.canonical) AS display
    FROM counted c
    LEFT JOIN entities e USING (canonical, entity_type)
),
per_article AS (
    SELECT article_id,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'PERS') AS persons,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'LOC') AS locations,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'ORG') AS organizations,
           list(canonical ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'MISC') AS misc,
           list(display ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'PERS') AS person_names,
           list(display ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'LOC') AS location_names,
           list(display ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'ORG') AS organization_names,
           list(display ORDER BY n DESC, canonical) FILTER (WHERE entity_type = 'MISC') AS misc_names,
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
       coalesce(p.mentions, 0) AS mentions,
       coalesce(p.person_names, []::VARCHAR[]) AS person_names,
       coalesce(p.location_names, []::VARCHAR[]) AS location_names,
       coalesce(p.organization_names, []::VARCHAR[]) AS organization_names,
       coalesce(p.misc_names, []::VARCHAR[]) AS misc_names
FROM articles a
LEFT JOIN per_article p USING (article_id);

-- Mentions and articles per UTC day and merged entity (`canonical` is the merged key), with its display form.
CREATE OR REPLACE VIEW daily_entity_counts AS
SELECT c.day, c.canonical, c.entity_type, c.mentions, c.articles, e.display
FROM (
    SELECT CAST(timezone('UTC', coalesce(a.published_at, a.fetched_at)) AS DATE) AS day,
           em.entity AS canonical,
           em.entity_type,
           count(*) AS mentions,
           count(DISTINCT em.article_id) AS articles
    FROM entity_mentions em
    JOIN articles a USING (article_id)
    GROUP BY ALL
) c
LEFT JOIN entities e ON e.canonical = c.canonical AND e.entity_type = c.entity_type;

-- The entities table, one row per merged entity and type from now on.
DELETE FROM entities;
INSERT INTO entities SELECT * FROM entity_summary;
