-- Version 7 is reserved for the web sessions and audit log tables, which
-- come in a separate change. This placeholder keeps the versions without a
-- gap until then and changes nothing; it is removed when that change lands.
SELECT 1;
