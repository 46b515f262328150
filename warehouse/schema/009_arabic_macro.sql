-- The Arabic normalisation of extractors/arabic.py (fold_arabic) as a macro for the named queries and
-- anyone's SQL: no diacritics, other marks or tatweel; one alef; alef maqsura -> yaa; taa marbuta -> haa;
-- ASCII digits. Generated: python -m warehouse.arabic_sql > warehouse/schema/009_arabic_macro.sql
CREATE OR REPLACE MACRO akhbar_normalize(s) AS
    translate(regexp_replace(CAST(s AS VARCHAR), '[\x{0610}-\x{061A}\x{0640}\x{064B}-\x{065F}\x{0670}\x{06D6}-\x{06DC}\x{06DF}-\x{06E8}\x{06EA}-\x{06ED}]', '', 'g'), 'آأإةى٠١٢٣٤٥٦٧٨٩ٱ۰۱۲۳۴۵۶۷۸۹', 'اااهي0123456789ا0123456789');
