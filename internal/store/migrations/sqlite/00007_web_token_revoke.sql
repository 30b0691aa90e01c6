-- Dashboard tokens can be revoked (`exsweep serve tokens revoke ID`) and
-- show when they were last used (`exsweep serve tokens list`). A revoked
-- token stays in the table, so the list keeps its name and history and a
-- hash is never reused. Both columns are NULL until the event happens;
-- times as in 00001_scan.sql. Only web_tokens (00003) is touched.

-- +goose Up
ALTER TABLE web_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE web_tokens ADD COLUMN last_used_at TEXT;

-- +goose Down
ALTER TABLE web_tokens DROP COLUMN last_used_at;
ALTER TABLE web_tokens DROP COLUMN revoked_at;
