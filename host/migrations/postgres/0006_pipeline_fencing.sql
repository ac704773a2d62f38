-- Fencing for two hosts sharing one store (leader election): each pipeline row carries
-- the lease holder and term (the Lease's acquire time, in µs) that last wrote it, and a
-- write with an older term is refused, so a host that lost its lease cannot write the
-- state after the new leader has. Hosts without leader election write term 0.
ALTER TABLE sluice_pipelines ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE sluice_pipelines ADD COLUMN term BIGINT NOT NULL DEFAULT 0;
