-- Inbox reports: one row per conversation, written when its figures
-- happen (opened, first answered, resolved) and kept by the hour, so that a
-- report reads these rows, never the messages, and medians and p90s are
-- exact. The agent is the conversation's assignee (NULL: unassigned).
CREATE TABLE inbox_report_conversations (
    conversation_id    TEXT PRIMARY KEY REFERENCES inbox_conversations(id) ON DELETE CASCADE,
    organization_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id         TEXT NOT NULL,
    agent_id           TEXT,
    opened_at          BIGINT NOT NULL,
    opened_hour        BIGINT NOT NULL,
    -- The first outgoing message after the conversation opened.
    first_response_at  BIGINT,
    first_response_hour BIGINT,
    first_response_ms  BIGINT,
    -- The last resolution (a conversation opened again and resolved again
    -- counts once, at its last resolution).
    resolved_at        BIGINT,
    resolved_hour      BIGINT,
    resolution_ms      BIGINT
);
CREATE INDEX inbox_report_opened ON inbox_report_conversations (organization_id, opened_hour);
CREATE INDEX inbox_report_first_response ON inbox_report_conversations (organization_id, first_response_hour);
CREATE INDEX inbox_report_resolved ON inbox_report_conversations (organization_id, resolved_hour);
