-- The caller's queue priority as the IVR set it: 'high_risk' for a caller
-- who said they are in danger right now, else empty.
ALTER TABLE calls ADD COLUMN priority TEXT NOT NULL DEFAULT '';
