-- Downgrades wait for the end of the period: the plan an organization moves
-- to, and when (Unix ms, the first instant of the next period).
ALTER TABLE organizations ADD COLUMN scheduled_plan TEXT;
ALTER TABLE organizations ADD COLUMN scheduled_plan_at BIGINT;
ALTER TABLE organizations ADD COLUMN scheduled_by TEXT REFERENCES users(id) ON DELETE SET NULL;

-- A second successful payment for an already-paid cycle is recorded as
-- 'duplicate' (to be refunded), never as a plain success. SQLite cannot
-- change a CHECK constraint in place: the table is rebuilt (nothing
-- references it).
CREATE TABLE payments_rebuilt (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    billing_cycle_id   TEXT REFERENCES billing_cycles(id) ON DELETE SET NULL,
    provider           TEXT NOT NULL CHECK (provider IN ('stripe', 'paystack')),
    provider_reference TEXT NOT NULL,
    checkout_url       TEXT,
    amount             BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('initiated', 'succeeded', 'failed', 'duplicate')),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (provider, provider_reference)
);
INSERT INTO payments_rebuilt (id, organization_id, billing_cycle_id, provider, provider_reference, checkout_url,
    amount, currency, status, created_at, updated_at)
SELECT id, organization_id, billing_cycle_id, provider, provider_reference, checkout_url,
    amount, currency, status, created_at, updated_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_rebuilt RENAME TO payments;
CREATE INDEX payments_org ON payments (organization_id, created_at);
CREATE INDEX payments_cycle ON payments (billing_cycle_id, status);
