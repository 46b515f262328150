-- akhbar warehouse, version 11: which entities a name the user typed means, once for every query that asks.
-- A name matches an entity's canonical form, any form written in an article, or the canonical form of its
-- normalisation (akhbar_normalize of migration 9); `type` = '' means any type, otherwise PERS, LOC, ORG, MISC.
CREATE OR REPLACE MACRO entities_named(name, type) AS TABLE
    SELECT DISTINCT canonical, entity_type
    FROM mentions
    WHERE (canonical = trim(name) OR text = trim(name) OR canonical = akhbar_normalize(trim(name)))
      AND (type = '' OR entity_type = upper(type));
