-- The raw request log is written once per metered request and read only
-- by people (and purged by age): billing, quotas and graphs read
-- usage_hourly. Every extra B-tree and foreign-key check on it is paid on
-- the hot path, so it keeps just its rows and the index the retention
-- purge needs: no id (nothing refers to a raw row), no foreign keys
-- (organizations and keys are never deleted; a raw row outliving either
-- would be harmless), no per-organization or per-key index.
CREATE TABLE usage_records_lean (
    organization_id TEXT NOT NULL,
    api_key_id      TEXT,
    endpoint        TEXT NOT NULL,
    method          TEXT NOT NULL,
    status          BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);

INSERT INTO usage_records_lean (organization_id, api_key_id, endpoint, method, status, created_at)
SELECT organization_id, api_key_id, endpoint, method, status, created_at FROM usage_records;

DROP TABLE usage_records;
ALTER TABLE usage_records_lean RENAME TO usage_records;
CREATE INDEX usage_records_time ON usage_records (created_at);
