-- sluice's own state (PostgreSQL). Times are Unix milliseconds; JSON is stored as text.
CREATE TABLE sluice_pipelines (
    name TEXT PRIMARY KEY,
    phase TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE sluice_runs (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    job_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    status TEXT NOT NULL,
    claimed_rows BIGINT NOT NULL DEFAULT 0,
    report TEXT,
    reason TEXT,
    commit_id TEXT,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX sluice_runs_by_pipeline ON sluice_runs (pipeline, started_ms);

CREATE TABLE sluice_decisions (
    id BIGSERIAL PRIMARY KEY,
    pipeline TEXT NOT NULL,
    run_id TEXT,
    point TEXT NOT NULL,
    outcome TEXT NOT NULL,
    policy TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    module_sha256 TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    failure TEXT,
    logs TEXT NOT NULL,
    fuel_used BIGINT NOT NULL,
    wall_micros BIGINT NOT NULL,
    decided_ms BIGINT NOT NULL
);
CREATE INDEX sluice_decisions_by_pipeline ON sluice_decisions (pipeline, id);

CREATE TABLE sluice_rejected_versions (
    pipeline TEXT NOT NULL,
    version TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_ms BIGINT NOT NULL,
    PRIMARY KEY (pipeline, version)
);
