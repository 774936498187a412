-- Backups: every attempt to take a snapshot (for the operator's page, the
-- metrics and the alert rules), and the one row that says when the next
-- scheduled snapshot is due (the instance that moves it takes the
-- snapshot: one per interval however many instances run).

CREATE TABLE backup_runs (
    id          TEXT PRIMARY KEY,
    -- `scheduled`, `manual` (console or API) or `command` (the CLI).
    trigger     TEXT NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'command')),
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    -- The snapshot's name once known (`landlord-20261206T191500.123Z`).
    snapshot    TEXT,
    -- Where it was written, as configured (credentials never).
    destination TEXT NOT NULL,
    archive_bytes BIGINT,
    database_bytes BIGINT,
    -- The reason of a failure, in words.
    error       TEXT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX backup_runs_started ON backup_runs (started_at);

CREATE TABLE backup_schedule (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    -- When the next scheduled snapshot is due (Unix ms).
    next_due_at BIGINT NOT NULL,
    -- The instance taking it holds the slot until then (a crashed one's
    -- claim lapses).
    leased_until BIGINT NOT NULL
);
