-- Schema for `exsweep scan`. Conventions (keep them in later migrations):
--   * times are TEXT, UTC RFC 3339 with nine fractional digits (fixed width,
--     so text order is time order); never the TIMESTAMP type name, which the
--     driver would silently turn into Go time values with its own format;
--   * booleans are INTEGER 0/1, JSON documents are TEXT;
--   * no CHECK on enumerations (status, verdict): SQLite cannot alter a CHECK
--     without rebuilding the table, so those are validated in Go.

-- +goose Up
CREATE TABLE scan_runs (
    -- AUTOINCREMENT: a run id is shown to users and referenced later (cases,
    -- rescans), so an id must never be handed out twice, even after deletes.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    status        TEXT    NOT NULL DEFAULT 'running',
    args          TEXT,
    targets_total INTEGER,
    counts        TEXT,
    kb_date       TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE observations (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    target      TEXT    NOT NULL,
    -- NULL when the target never resolved to an address.
    ip          TEXT,
    port        INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    hostname    TEXT    NOT NULL DEFAULT '',
    exchange    INTEGER NOT NULL DEFAULT 0 CHECK (exchange IN (0, 1)),
    product     TEXT    NOT NULL DEFAULT '',
    build       TEXT    NOT NULL DEFAULT '',
    build_exact INTEGER NOT NULL DEFAULT 0 CHECK (build_exact IN (0, 1)),
    cu          TEXT    NOT NULL DEFAULT '',
    update_name TEXT    NOT NULL DEFAULT '',
    verdict     TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    record      TEXT,
    observed_at TEXT    NOT NULL,
    -- One row per endpoint per run: a retried or resumed endpoint replaces
    -- its row (upsert). Its index also serves "WHERE run_id = ?" scans and
    -- covers the (ip, port) list that resume reads.
    UNIQUE (run_id, ip, port)
);

-- NULLs are distinct in UNIQUE, so rows without an address get their own key.
CREATE UNIQUE INDEX observations_run_target_noip ON observations (run_id, target, port) WHERE ip IS NULL;
CREATE INDEX observations_run_verdict ON observations (run_id, verdict);
CREATE INDEX observations_ip ON observations (ip);

-- +goose Down
DROP TABLE observations;
DROP TABLE scan_runs;
