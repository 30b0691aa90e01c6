-- PostgreSQL mirror of migrations/sqlite/00006_dashboard_counts.sql (the
-- reasons are written there).

-- +goose Up
ALTER TABLE observations ADD COLUMN compromised boolean NOT NULL DEFAULT false;
UPDATE observations SET compromised = true WHERE CAST(record AS text) LIKE '%"webshells":[{%';
DROP INDEX observations_run_verdict;
CREATE INDEX observations_run_counts ON observations (run_id, verdict, exchange, compromised, observed_at);

CREATE TABLE run_stats (
    run_id         bigint      PRIMARY KEY REFERENCES scan_runs (id) ON DELETE CASCADE,
    first_observed timestamptz,
    observations   bigint      NOT NULL,
    exchange       bigint      NOT NULL,
    vulnerable     bigint      NOT NULL,
    patched        bigint      NOT NULL,
    undetermined   bigint      NOT NULL,
    compromised    bigint      NOT NULL,
    breakdown      json        NOT NULL,
    computed_at    timestamptz NOT NULL
);

ALTER TABLE cases ADD COLUMN country text NOT NULL DEFAULT '';
CREATE INDEX cases_severity ON cases (severity DESC, id, state);
CREATE INDEX cases_state_groups ON cases (state, country, asn, as_name, problem);

-- +goose Down
DROP INDEX cases_state_groups;
DROP INDEX cases_severity;
ALTER TABLE cases DROP COLUMN country;
DROP TABLE run_stats;
DROP INDEX observations_run_counts;
CREATE INDEX observations_run_verdict ON observations (run_id, verdict);
ALTER TABLE observations DROP COLUMN compromised;
