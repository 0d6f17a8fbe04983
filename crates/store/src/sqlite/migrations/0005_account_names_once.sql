-- An account's name is kept once, in users.display_name: an influencer profile's display name
-- and a brand profile's company name are read from there. Until now each profile kept its own
-- copy, and profile edits changed only that copy, so the profile's is the name the account
-- holder chose last: it becomes the account's name before the copies are dropped.

UPDATE users
SET display_name = (SELECT p.display_name FROM influencer_profiles AS p WHERE p.user_id = users.id)
WHERE id IN (SELECT user_id FROM influencer_profiles);

UPDATE users
SET display_name = (SELECT b.company_name FROM brand_profiles AS b WHERE b.user_id = users.id)
WHERE id IN (SELECT user_id FROM brand_profiles);

ALTER TABLE influencer_profiles DROP COLUMN display_name;
ALTER TABLE brand_profiles DROP COLUMN company_name;
