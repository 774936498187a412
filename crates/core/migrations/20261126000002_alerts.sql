-- Operator alerts (DESIGN.md §15). One row per configured rule: where its
-- state machine stands. Every transition is a compare-and-set on
-- `version`, so several instances evaluating the same rule make one
-- transition and one notification; state and cooldowns survive restarts.
CREATE TABLE alert_states (
    rule             TEXT PRIMARY KEY,
    severity         TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status           TEXT NOT NULL CHECK (status IN ('inactive', 'pending', 'firing')),
    value            DOUBLE PRECISION NOT NULL DEFAULT 0,
    since            BIGINT,                    -- when the current status began
    notified         BIGINT NOT NULL DEFAULT 0, -- 1: this firing was notified
    last_notified_at BIGINT,                    -- last firing notification (cooldown)
    version          BIGINT NOT NULL DEFAULT 0,
    updated_at       BIGINT NOT NULL
);

-- Every firing and resolution, newest read first.
CREATE TABLE alert_history (
    id       TEXT PRIMARY KEY,
    rule     TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status   TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    value    DOUBLE PRECISION NOT NULL,
    notified BIGINT NOT NULL DEFAULT 0,
    at       BIGINT NOT NULL
);
CREATE INDEX alert_history_at ON alert_history (at);
