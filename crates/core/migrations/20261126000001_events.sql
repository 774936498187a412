-- Events (DESIGN.md §14): what happened to an organization, written in the
-- same transaction as the change that caused it. The table is also the
-- organization's event history (`GET /events`) and what outgoing webhooks
-- deliver. `type` is a catalog name (`invoice.paid`), `version` the
-- payload's version, `payload` the JSON object a receiver gets.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
-- Cursor pages of one organization's history, newest first.
CREATE INDEX events_org_time ON events (organization_id, created_at, id);
-- Type filters.
CREATE INDEX events_org_type ON events (organization_id, type, created_at);

-- `usage.threshold_reached` is emitted once per organization, period and
-- threshold: the first instance to insert the row emits, others see the
-- conflict and do not.
CREATE TABLE event_usage_thresholds (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    period          TEXT NOT NULL,
    percent         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, period, percent)
);
