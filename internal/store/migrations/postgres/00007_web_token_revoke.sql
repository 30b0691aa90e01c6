-- PostgreSQL mirror of migrations/sqlite/00007_web_token_revoke.sql (see the
-- comments there).

-- +goose Up
ALTER TABLE web_tokens ADD COLUMN revoked_at timestamptz;
ALTER TABLE web_tokens ADD COLUMN last_used_at timestamptz;

-- +goose Down
ALTER TABLE web_tokens DROP COLUMN last_used_at;
ALTER TABLE web_tokens DROP COLUMN revoked_at;
