-- Each policy module's self-description, stored once per module digest (decision
-- rows name the module by its sha256), and the module files whose current bytes were
-- refused (one row per module name; cleared when a version of it goes live).
CREATE TABLE sluice_policy_modules (
    sha256 TEXT PRIMARY KEY,
    point TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT NOT NULL,
    first_seen_ms BIGINT NOT NULL
);

CREATE TABLE sluice_policy_refusals (
    module TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    refused_ms BIGINT NOT NULL
);

-- Whether `fuel_used` is the whole count (1) or a lower bound (0): when the wall-clock
-- deadline stops a loop, the fuel the loop burned since its last call is not reported.
ALTER TABLE sluice_decisions ADD COLUMN fuel_exact BIGINT NOT NULL DEFAULT 1;
