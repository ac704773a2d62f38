-- Policy modules uploaded through the admin API (`PUT /v1/policies/{name}`): the live
-- bytes of each name, so a restart (or the other replica) loads what was uploaded,
-- and every upload attempt, accepted or refused, with who sent it.
CREATE TABLE sluice_policy_uploads (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    wasm BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_ms BIGINT NOT NULL
);
CREATE TABLE sluice_policy_upload_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    who TEXT NOT NULL,
    accepted BIGINT NOT NULL,
    reason TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
