-- Operator requests to a running rollout (`sluice rollout pause|resume|abort|promote`).
-- The host takes them in id order; the state of the pipeline records the last id it
-- acted on (in the same write as the change it made), so a request is acted on once
-- even when the host is killed in between. `run_id` ties a request to one candidate:
-- a request left over from an earlier rollout never applies to the next one.
CREATE TABLE sluice_rollout_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    run_id TEXT NOT NULL,
    action TEXT NOT NULL,
    who TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_ms BIGINT NOT NULL
);
CREATE INDEX sluice_rollout_requests_by_run ON sluice_rollout_requests (pipeline, run_id, id);
