-- Landlord's schema, portable between SQLite and PostgreSQL.
-- Conventions: ids are UUIDs (v7) in TEXT; every integer is BIGINT; times
-- are Unix milliseconds (BIGINT, suffix _at); money is BIGINT minor units
-- with an ISO 4217 currency code; JSON is TEXT.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    billing_email TEXT,
    plan          TEXT NOT NULL DEFAULT 'free',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,   -- stored lower-cased
    name              TEXT,
    password_hash     TEXT NOT NULL,          -- argon2id PHC string
    email_verified_at BIGINT,
    platform_admin_at BIGINT,                 -- set when made a platform administrator
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE memberships (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Rotating refresh tokens. Each login starts a family; each refresh marks the
-- presented token used and issues a child in the same family. Presenting a
-- used token again revokes the whole family.
CREATE TABLE refresh_sessions (
    id              TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,     -- SHA-256 of the token, hex
    user_agent      TEXT,
    ip              TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX refresh_sessions_family ON refresh_sessions (family_id);
CREATE INDEX refresh_sessions_user ON refresh_sessions (user_id);

-- Single-use tokens mailed to people: email verification and password reset.
CREATE TABLE one_time_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('email_verification', 'password_reset')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);

CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    invited_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    responded_at    BIGINT
);
CREATE INDEX invitations_org ON invitations (organization_id, status);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    created_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,            -- shown to people, e.g. sk_live_1a2b3c4d
    key_hash        TEXT NOT NULL UNIQUE,     -- SHA-256 of the whole key, hex
    scopes          TEXT,                     -- JSON array, NULL for all
    expires_at      BIGINT,
    revoked_at      BIGINT,
    last_used_at    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX api_keys_org ON api_keys (organization_id);

-- One row per metered API-key request, written in batches.
CREATE TABLE usage_records (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id      TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    endpoint        TEXT NOT NULL,            -- route template
    method          TEXT NOT NULL,
    status          BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX usage_records_org_time ON usage_records (organization_id, created_at);
CREATE INDEX usage_records_key_time ON usage_records (api_key_id, created_at);

CREATE TABLE plan_changes (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    from_plan       TEXT NOT NULL,
    to_plan         TEXT NOT NULL,
    changed_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
    amount          BIGINT NOT NULL DEFAULT 0,  -- prorated charge, minor units
    currency        TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX plan_changes_org ON plan_changes (organization_id, created_at);

-- One invoice per organization and calendar month ('YYYY-MM', UTC).
CREATE TABLE billing_cycles (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    period           TEXT NOT NULL,
    period_start     BIGINT NOT NULL,
    period_end       BIGINT NOT NULL,
    plan             TEXT NOT NULL,
    requests         BIGINT NOT NULL,
    included         BIGINT,                   -- NULL: unlimited
    overage_requests BIGINT NOT NULL,
    base_amount      BIGINT NOT NULL,
    overage_amount   BIGINT NOT NULL,
    adjustments      BIGINT NOT NULL DEFAULT 0,
    amount           BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'overdue', 'void')),
    due_at           BIGINT NOT NULL,
    paid_at          BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, period)
);
CREATE INDEX billing_cycles_status ON billing_cycles (status, due_at);

CREATE TABLE payments (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    billing_cycle_id   TEXT REFERENCES billing_cycles(id) ON DELETE SET NULL,
    provider           TEXT NOT NULL CHECK (provider IN ('stripe', 'paystack')),
    provider_reference TEXT NOT NULL,           -- checkout session id or transaction reference
    checkout_url       TEXT,
    amount             BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('initiated', 'succeeded', 'failed')),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (provider, provider_reference)
);
CREATE INDEX payments_org ON payments (organization_id, created_at);

-- Every verified provider webhook, deduplicated by the provider's event id.
CREATE TABLE provider_webhook_events (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('received', 'processed', 'failed', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at BIGINT,
    created_at      BIGINT NOT NULL,
    processed_at    BIGINT,
    UNIQUE (provider, event_id)
);
CREATE INDEX provider_webhook_events_status ON provider_webhook_events (status, next_attempt_at);

CREATE TABLE reconciliation_discrepancies (
    id                 TEXT PRIMARY KEY,
    provider           TEXT NOT NULL,
    organization_id    TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    billing_cycle_id   TEXT REFERENCES billing_cycles(id) ON DELETE SET NULL,
    provider_reference TEXT,
    kind               TEXT NOT NULL,
    ours               TEXT,
    theirs             TEXT,
    created_at         BIGINT NOT NULL,
    resolved_at        BIGINT,
    resolved_by        TEXT REFERENCES users(id) ON DELETE SET NULL
);

-- Replays of money-related POSTs return the first answer.
CREATE TABLE idempotency_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    route           TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status BIGINT,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    UNIQUE (organization_id, route, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The outbox and job queue, worked by every instance.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'dead')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT,                       -- NULL: the configured jobs_max_attempts
    run_at       BIGINT NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    unique_key   TEXT UNIQUE,                  -- for schedules: one job per occurrence
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

CREATE TABLE audit_log (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    actor_user_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
    actor_api_key_id TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    action           TEXT NOT NULL,
    target_type      TEXT,
    target_id        TEXT,
    ip               TEXT,
    user_agent       TEXT,
    details          TEXT,                     -- JSON object
    created_at       BIGINT NOT NULL
);
CREATE INDEX audit_log_org_time ON audit_log (organization_id, created_at);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id      TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       TEXT NOT NULL,
    subject         TEXT,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    failure_reason  TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX messages_org ON messages (organization_id, created_at);
