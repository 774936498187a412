-- Outgoing webhooks (DESIGN.md §14): an organization's endpoints, one
-- delivery per (event, endpoint), and every attempt of it.

-- Events not yet fanned out to endpoints. Existing events were written
-- before any endpoint could exist: they count as dispatched.
ALTER TABLE events ADD COLUMN dispatched BIGINT NOT NULL DEFAULT 0;
UPDATE events SET dispatched = 1;
CREATE INDEX events_undispatched ON events (id) WHERE dispatched = 0;

-- The secrets are sealed with the payload key (they must be shown again to
-- owners and used to sign, so they cannot be hashes). `event_types` is a
-- JSON array of catalog names; empty: every type. `failing_since` is the
-- first failed attempt after the last success (cleared by a success).
CREATE TABLE webhook_endpoints (
    id                       TEXT PRIMARY KEY,
    organization_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url                      TEXT NOT NULL,
    description              TEXT NOT NULL DEFAULT '',
    event_types              TEXT NOT NULL DEFAULT '[]',
    enabled                  BIGINT NOT NULL DEFAULT 1,
    disabled_reason          TEXT,
    secret_sealed            TEXT NOT NULL,
    previous_secret_sealed   TEXT,
    previous_secret_until    BIGINT,
    failing_since            BIGINT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (organization_id, id);

-- One message (an event) to one endpoint. `seq` names the job that may
-- make the next attempt: a resend bumps it, so an older scheduled job
-- finds itself stale and does nothing. `locked_until` keeps a second
-- attempt from starting while one is in flight.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    seq              BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    locked_until     BIGINT,
    last_attempt_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
-- `recover`: an endpoint's failed deliveries since a time.
CREATE INDEX webhook_deliveries_endpoint_status ON webhook_deliveries (endpoint_id, status, created_at);

-- Every attempt: what was sent when, and what came back (an excerpt).
CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    attempt          BIGINT NOT NULL,
    cause            TEXT NOT NULL CHECK (cause IN ('scheduled', 'resend', 'recover', 'test')),
    succeeded        BIGINT NOT NULL,
    status_code      BIGINT,
    duration_ms      BIGINT NOT NULL,
    response_excerpt TEXT NOT NULL DEFAULT '',
    error            TEXT,
    attempted_at     BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
-- The alerts' webhook failure rate over a window.
CREATE INDEX webhook_attempts_time ON webhook_attempts (attempted_at);
