-- Hunt reports imported for an endpoint (`exsweep cases import-hunt`), so
-- the dashboard's endpoint page can show the findings and the timeline of
-- the hunt on that server. The report is kept whole, as exsweep hunt wrote
-- it (JSON); verdict and summary are copied out for lists. No foreign key
-- to cases: a report stays evidence whatever happens to the cases.

-- +goose Up
CREATE TABLE hunt_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ip          TEXT    NOT NULL,
    port        INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    imported_at TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    summary     TEXT    NOT NULL DEFAULT '',
    -- Where the report came from (file name), for the audit trail.
    source      TEXT    NOT NULL DEFAULT '',
    report      TEXT    NOT NULL
);
CREATE INDEX hunt_reports_endpoint ON hunt_reports (ip, port);

-- +goose Down
DROP TABLE hunt_reports;
