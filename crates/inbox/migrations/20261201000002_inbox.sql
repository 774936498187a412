-- Module: Inbox (DESIGN.md §16, seed 003): a shared WhatsApp team inbox.

-- A WhatsApp number. Its secrets are sealed with the payload key: the
-- access token signs Graph API calls, the app secret checks inbound
-- signatures, the verify token answers Meta's handshake.
CREATE TABLE inbox_channels (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    phone_number_id      TEXT NOT NULL UNIQUE,
    business_account_id  TEXT NOT NULL,
    access_token_sealed  TEXT NOT NULL,
    app_secret_sealed    TEXT NOT NULL,
    verify_token_sealed  TEXT NOT NULL,
    -- The access token's last four characters, to recognize it.
    access_token_hint    TEXT NOT NULL,
    -- Inbound notifications refused for a bad or missing signature.
    rejected_webhooks    BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX inbox_channels_org ON inbox_channels (organization_id, id);

-- A person on one channel, unique by WhatsApp id there.
CREATE TABLE inbox_contacts (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id       TEXT NOT NULL REFERENCES inbox_channels(id) ON DELETE CASCADE,
    wa_id            TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL,
    attributes       TEXT NOT NULL DEFAULT '{}',   -- JSON object of strings
    labels           TEXT NOT NULL DEFAULT '[]',   -- JSON array
    -- The contact's last incoming message: the 24-hour reply window.
    last_incoming_at BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (channel_id, wa_id)
);
CREATE INDEX inbox_contacts_org_phone ON inbox_contacts (organization_id, phone);
CREATE INDEX inbox_contacts_org_name ON inbox_contacts (organization_id, name);

-- A conversation with a contact on a channel. At most one is not
-- resolved per (channel, contact): the partial unique index decides,
-- whatever the concurrency. `number` is the organization's display number.
CREATE TABLE inbox_conversations (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id       TEXT NOT NULL REFERENCES inbox_channels(id) ON DELETE CASCADE,
    contact_id       TEXT NOT NULL REFERENCES inbox_contacts(id) ON DELETE CASCADE,
    number           BIGINT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    snoozed_until    BIGINT,
    assignee_id      TEXT REFERENCES users(id) ON DELETE SET NULL,
    team             TEXT,
    last_activity_at BIGINT NOT NULL,
    resolved_at      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (organization_id, number)
);
CREATE UNIQUE INDEX inbox_one_unresolved_conversation
    ON inbox_conversations (channel_id, contact_id) WHERE status <> 'resolved';
-- The list: by status and last activity (seed 003 §3), by assignee.
CREATE INDEX inbox_conversations_org_status_activity
    ON inbox_conversations (organization_id, status, last_activity_at, id);
CREATE INDEX inbox_conversations_org_activity
    ON inbox_conversations (organization_id, last_activity_at, id);
CREATE INDEX inbox_conversations_org_assignee
    ON inbox_conversations (organization_id, assignee_id, last_activity_at);

CREATE TABLE inbox_conversation_labels (
    conversation_id  TEXT NOT NULL REFERENCES inbox_conversations(id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    label            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX inbox_conversation_labels_org ON inbox_conversation_labels (organization_id, label);

-- The organization's last display number.
CREATE TABLE inbox_counters (
    organization_id  TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    last_number      BIGINT NOT NULL
);

-- Messages: unique per provider id on a channel, so a notification
-- delivered twice stores one message. Status only moves forward.
CREATE TABLE inbox_messages (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id     TEXT NOT NULL REFERENCES inbox_conversations(id) ON DELETE CASCADE,
    channel_id          TEXT NOT NULL REFERENCES inbox_channels(id) ON DELETE CASCADE,
    direction           TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    kind                TEXT NOT NULL CHECK (kind IN ('text', 'template', 'media')),
    body                TEXT NOT NULL DEFAULT '',
    template            TEXT,                    -- JSON: name, language, parameters
    media               TEXT,                    -- JSON: the provider's media reference
    provider_message_id TEXT,
    status              TEXT NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')),
    error               TEXT,
    sent_by             TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (channel_id, provider_message_id)
);
CREATE INDEX inbox_messages_conversation ON inbox_messages (conversation_id, created_at, id);

CREATE TABLE inbox_canned_responses (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    short_code       TEXT NOT NULL,
    content          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, short_code)
);

-- Approved templates (name, language, how many body parameters).
CREATE TABLE inbox_templates (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    language         TEXT NOT NULL,
    body             TEXT NOT NULL,
    parameters       BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, name, language)
);
