-- Stories carried by more than one article (exact or near-duplicate copies), biggest first.
-- params: limit=20, min_copies=2
SELECT story_id,
       story_title AS title,
       copies,
       sources,
       array_to_string(source_list, ', ') AS source_list,
       first_published,
       last_published,
       urls
FROM story_groups(NULL, NULL)
WHERE copies >= CAST($min_copies AS INTEGER)
ORDER BY copies DESC, first_published DESC
LIMIT CAST($limit AS INTEGER);
