-- The console's one-time notices ("Key created."), each bound to the
-- browser session (refresh-token family) that acted, read once by that
-- session's next page and deleted as it is read. A secret shown once (a new
-- API key, a webhook signing secret) is kept sealed with the payload key,
-- never in plain, and only for a few minutes.
CREATE TABLE console_flashes (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    notice     TEXT NOT NULL,
    kind       TEXT,
    details    TEXT,
    sealed     TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_flashes_session ON console_flashes (session_id);
CREATE INDEX console_flashes_expires ON console_flashes (expires_at);
