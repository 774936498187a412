-- The inbox's realtime stream: what happened, per organization, in order
-- (ids are time-ordered UUIDs), so a client reconnecting with the last id
-- it saw gets what it missed. Written in the transaction of each change;
-- Redis pub/sub (when configured) only wakes the streams of every
-- instance, the rows are the truth. Kept a day.
CREATE TABLE inbox_stream_events (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX inbox_stream_events_org ON inbox_stream_events (organization_id, id);
CREATE INDEX inbox_stream_events_time ON inbox_stream_events (created_at);
