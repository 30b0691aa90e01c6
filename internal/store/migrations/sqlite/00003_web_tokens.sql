-- Login tokens of the dashboard (`exsweep serve`). Only the SHA-256 of a
-- token is stored: the token itself is printed once, when it is created.
-- Conventions as in 00001_scan.sql.

-- +goose Up
CREATE TABLE web_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- hex SHA-256 of the token.
    hash         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL DEFAULT '',
    -- 1: may read, may not change anything (no POST).
    read_only    INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    created_at   TEXT    NOT NULL
);

-- +goose Down
DROP TABLE web_tokens;
