-- Integration health: the latest status of each configured integration
-- (SMTP, Stripe, Paystack, each WhatsApp channel, outgoing webhooks), from
-- a light periodic probe and the recent error rate of real calls. One row
-- per integration, replaced by every probe round; `since` is when the
-- current status began.
CREATE TABLE integration_health (
    integration          TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL CHECK (kind IN ('smtp', 'stripe', 'paystack', 'whatsapp', 'webhooks')),
    status               TEXT NOT NULL CHECK (status IN ('healthy', 'degraded', 'down')),
    latency_ms           BIGINT,               -- the last probe's, when probed
    calls                BIGINT NOT NULL DEFAULT 0, -- real calls in the error window
    failed_calls         BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0, -- failed probes in a row
    reason               TEXT,                 -- why it is not healthy
    checked_at           BIGINT NOT NULL,
    since                BIGINT NOT NULL
);

-- Real calls to the integrations and how many failed, per minute: every
-- instance adds what it counted in memory since its last flush; health
-- sums the last 15 minutes. `minute` is the minute's start, Unix
-- milliseconds.
CREATE TABLE integration_calls (
    integration  TEXT NOT NULL,
    minute       BIGINT NOT NULL,
    calls        BIGINT NOT NULL,
    failed_calls BIGINT NOT NULL,
    PRIMARY KEY (integration, minute)
);
