-- A message is `sent` only when a provider took it. New statuses:
-- `simulated` (written to a development outbox: nobody received it) and
-- `delivered` (the SMS provider's status callback said so). New columns:
-- which provider took the message and under which id (Twilio's `SM…`
-- SID, found again when its status callback arrives), when it was
-- delivered, and the claim a delivery holds while it hands the message
-- over (so that a job run twice sends once). SQLite cannot change a
-- CHECK constraint in place: the table is rebuilt (nothing references it).
-- Until now the only SMS provider wrote files: every SMS marked `sent`
-- was simulated, and says so now. (An email may have gone over SMTP or to
-- a file; which is not known, so it keeps its status.)
CREATE TABLE messages_rebuilt (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id          TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    channel             TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient           TEXT NOT NULL,
    subject             TEXT,
    body                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'failed', 'simulated')),
    failure_reason      TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    sent_at             BIGINT,
    provider            TEXT,
    provider_message_id TEXT,
    delivered_at        BIGINT,
    claimed_until       BIGINT
);
INSERT INTO messages_rebuilt (id, organization_id, api_key_id, channel, recipient, subject, body,
    status, failure_reason, created_at, updated_at, sent_at)
SELECT id, organization_id, api_key_id, channel, recipient, subject, body,
    CASE WHEN channel = 'sms' AND status = 'sent' THEN 'simulated' ELSE status END, failure_reason, created_at, updated_at, sent_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE INDEX messages_org ON messages (organization_id, created_at);
CREATE UNIQUE INDEX messages_provider_id ON messages (provider, provider_message_id);
