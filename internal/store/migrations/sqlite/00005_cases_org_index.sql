-- Cases of one organisation in a given state (notify plans, the organisation
-- page, the replay): without it the state index scans every open case once
-- per organisation, quadratic in a national campaign.

-- +goose Up
CREATE INDEX cases_org_state ON cases (org_id, state);

-- +goose Down
DROP INDEX cases_org_state;
