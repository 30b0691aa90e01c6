-- RDAP abuse contacts per prefix (internal/owners), kept between runs so a
-- national campaign asks each registry once per network and TTL.
-- Times are Unix seconds here: the cache compares them only with now.

-- +goose Up
CREATE TABLE rdap_cache (
    prefix      TEXT    PRIMARY KEY,
    contact     TEXT    NOT NULL,
    fetched_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE rdap_cache;
