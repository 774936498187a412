-- Apps on the network: the gateway's signing secrets, custom domains, the
-- routing changes other instances poll for, and per-app traffic figures.

-- The secret the gateway signs forwarded requests with (`whsec_…`, sealed
-- with the payload key). After a rotation the previous one keeps signing
-- beside it until `gateway_secret_previous_until`.
ALTER TABLE apps ADD COLUMN gateway_secret TEXT;
ALTER TABLE apps ADD COLUMN gateway_secret_previous TEXT;
ALTER TABLE apps ADD COLUMN gateway_secret_previous_until BIGINT;

-- A custom domain an app asked for. Routed only once `status` is
-- `verified`: its TXT record `_landlord-challenge.{domain}` held
-- `challenge`. Re-checked every `apps.domain_recheck_hours`; a record gone
-- detaches it (`status` back to `failed`, with the reason).
CREATE TABLE app_domains (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain          TEXT NOT NULL,
    challenge       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'failed')),
    last_error      TEXT,
    verified_at     BIGINT,
    checked_at      BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- One app may ask for a domain once; only one app on the platform holds
-- it verified.
CREATE UNIQUE INDEX app_domains_app_domain ON app_domains (app_id, domain);
CREATE UNIQUE INDEX app_domains_verified ON app_domains (domain) WHERE status = 'verified';
CREATE INDEX app_domains_check ON app_domains (status, checked_at);

-- A removed (or detached-then-deleted) custom domain, kept from every
-- other organization until `until`, as a deleted app's slug is.
CREATE TABLE app_domain_quarantine (
    domain          TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    until           BIGINT NOT NULL
);

-- One row, bumped in the transaction of every change to what a host
-- routes to (an app's slug, status, upstream or secret; a domain's
-- state): instances without Redis poll it and empty their host caches
-- when it moved.
CREATE TABLE app_routing_version (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO app_routing_version (id, version) VALUES (1, 0);

-- The gateway's traffic per app and hour, for the developer's page:
-- requests, errors (5xx answered by the upstream or by the gateway),
-- and the time to the upstream's answer (total and worst), in ms.
CREATE TABLE app_traffic_hourly (
    app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    hour             BIGINT NOT NULL,
    requests         BIGINT NOT NULL,
    errors           BIGINT NOT NULL,
    latency_ms_total BIGINT NOT NULL,
    latency_ms_max   BIGINT NOT NULL,
    PRIMARY KEY (app_id, hour)
);
