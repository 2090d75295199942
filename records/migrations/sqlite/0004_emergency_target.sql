-- The emergency service number (such as 119) that a counselor called into
-- the call, empty when none was.
ALTER TABLE calls ADD COLUMN emergency_target TEXT NOT NULL DEFAULT '';
