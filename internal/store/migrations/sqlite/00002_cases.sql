-- Organisations, cases and their history, and the outbox of notification
-- messages (`exsweep owners`, `notify`, `cases`). Conventions as in
-- 00001_scan.sql; JSON lists (e-mail addresses, CVE ids) are TEXT holding a
-- JSON array, never NULL.

-- +goose Up
-- A recipient of notifications, from the constituency file (key is its
-- stable name there) or from an ownership lookup.
CREATE TABLE organisations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL DEFAULT '',
    emails_to  TEXT    NOT NULL DEFAULT '[]',
    emails_cc  TEXT    NOT NULL DEFAULT '[]',
    language   TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

-- One case per (organisation, endpoint, problem). An endpoint nobody owns
-- has org_id NULL and keeps the AS number and name it was routed by.
CREATE TABLE cases (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id              INTEGER REFERENCES organisations (id),
    asn                 INTEGER NOT NULL DEFAULT 0,
    as_name             TEXT    NOT NULL DEFAULT '',
    ip                  TEXT    NOT NULL,
    port                INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    hostname            TEXT    NOT NULL DEFAULT '',
    problem             TEXT    NOT NULL,
    cves                TEXT    NOT NULL DEFAULT '[]',
    severity            INTEGER NOT NULL DEFAULT 0,
    state               TEXT    NOT NULL,
    -- Why the case is in its state (required for accepted).
    reason              TEXT    NOT NULL DEFAULT '',
    opened_at           TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    closed_at           TEXT,
    -- When the problem was last observed; older observations never
    -- overwrite newer ones, so replaying an old run changes nothing.
    last_seen_at        TEXT    NOT NULL,
    -- No foreign keys to observations or scan_runs, here and in the history:
    -- scan data may be pruned, the audit trail of a case must stay.
    last_observation_id INTEGER,
    -- Ticket of the last message sent about this case.
    ticket              TEXT    NOT NULL DEFAULT ''
);
-- NULLs are distinct in a UNIQUE index, so unowned cases get their own.
CREATE UNIQUE INDEX cases_owned_key ON cases (org_id, ip, port, problem) WHERE org_id IS NOT NULL;
CREATE UNIQUE INDEX cases_unowned_key ON cases (ip, port, problem) WHERE org_id IS NULL;
-- Lookups by endpoint (batch upsert, rescan) and lists by state.
CREATE INDEX cases_endpoint ON cases (ip, port);
CREATE INDEX cases_state ON cases (state, severity);

-- Every state change of a case, written in the transaction that makes it.
CREATE TABLE case_history (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id        INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    at             TEXT    NOT NULL,
    -- '' for the entry that opened the case.
    from_state     TEXT    NOT NULL DEFAULT '',
    to_state       TEXT    NOT NULL,
    reason         TEXT    NOT NULL DEFAULT '',
    observation_id INTEGER,
    run_id         INTEGER,
    actor          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX case_history_case ON case_history (case_id, id);

-- Ticket numbers YYYYMMDD-NNNNNNNN: one counter per UTC day, in the
-- database, so a number is never handed out twice, across restarts and
-- across machines sharing a PostgreSQL database.
CREATE TABLE ticket_counters (
    day      TEXT    PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

-- The outbox. A message is stored (pending) before any attempt to send it;
-- see the state machine in messages.go.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket          TEXT    NOT NULL UNIQUE,
    org_id          INTEGER REFERENCES organisations (id),
    emails_to       TEXT    NOT NULL DEFAULT '[]',
    emails_cc       TEXT    NOT NULL DEFAULT '[]',
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL DEFAULT '',
    -- Highest severity of the cases it reports (suppression window).
    severity        INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      TEXT    NOT NULL,
    claimed_at      TEXT,
    sent_at         TEXT,
    smtp_message_id TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX messages_due ON messages (state, next_attempt_at);
CREATE INDEX messages_org ON messages (org_id, id);

CREATE TABLE message_cases (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    case_id    INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, case_id)
);
CREATE INDEX message_cases_case ON message_cases (case_id);

CREATE TABLE message_attachments (
    message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    PRIMARY KEY (message_id, seq)
);

-- +goose Down
DROP TABLE message_attachments;
DROP TABLE message_cases;
DROP TABLE messages;
DROP TABLE ticket_counters;
DROP TABLE case_history;
DROP TABLE cases;
DROP TABLE organisations;
