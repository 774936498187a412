-- Inbox bulk operations (close, assign, label many conversations) run as
-- jobs with progress. The targets are fixed when the operation is asked
-- for; each is marked done as it is applied, so a job that crashed goes
-- on where it stopped.
CREATE TABLE inbox_bulk_operations (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    action           TEXT NOT NULL CHECK (action IN ('close', 'assign', 'label')),
    params           TEXT NOT NULL,              -- JSON: assignee, team, labels
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
    total            BIGINT NOT NULL,
    done             BIGINT NOT NULL DEFAULT 0,
    created_by       TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX inbox_bulk_operations_org ON inbox_bulk_operations (organization_id, id);

CREATE TABLE inbox_bulk_targets (
    operation_id     TEXT NOT NULL REFERENCES inbox_bulk_operations(id) ON DELETE CASCADE,
    conversation_id  TEXT NOT NULL REFERENCES inbox_conversations(id) ON DELETE CASCADE,
    done             BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (operation_id, conversation_id)
);
CREATE INDEX inbox_bulk_targets_pending ON inbox_bulk_targets (operation_id, done);
