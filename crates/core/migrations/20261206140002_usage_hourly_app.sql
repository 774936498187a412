-- Usage counters get the app as a dimension: requests through the gateway
-- to a published app are counted under the publishing organization with
-- the app's id ('' for everything else: API keys, modules). The primary
-- key cannot be altered in place on SQLite, so the table is rebuilt (the
-- same statements on both databases).
CREATE TABLE usage_hourly_new (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id      TEXT NOT NULL,
    route           TEXT NOT NULL,
    status_class    BIGINT NOT NULL,
    hour            BIGINT NOT NULL,
    requests        BIGINT NOT NULL,
    app_id          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (organization_id, api_key_id, route, status_class, hour, app_id)
);

INSERT INTO usage_hourly_new (organization_id, api_key_id, route, status_class, hour, requests, app_id)
SELECT organization_id, api_key_id, route, status_class, hour, requests, ''
FROM usage_hourly;

DROP TABLE usage_hourly;

ALTER TABLE usage_hourly_new RENAME TO usage_hourly;

CREATE INDEX usage_hourly_org_hour ON usage_hourly (organization_id, hour);
CREATE INDEX usage_hourly_hour ON usage_hourly (hour);
