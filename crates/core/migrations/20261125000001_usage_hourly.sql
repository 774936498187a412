-- Usage counters (DESIGN.md §5): what billing, quotas and graphs read, so
-- their cost follows organizations and hours, not requests. One row per
-- organization, key ('' when none), route ('METHOD /template'), status
-- class (2 for 2xx …) and bucket. The bucket (`hour`) starts at the hour,
-- or at the organization's latest usage cut within that hour (a plan
-- change's instant): counts between hours and cuts are then exact.
-- Instances add to the rows with an additive upsert.
CREATE TABLE usage_hourly (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id      TEXT NOT NULL,
    route           TEXT NOT NULL,
    status_class    BIGINT NOT NULL,
    hour            BIGINT NOT NULL,
    requests        BIGINT NOT NULL,
    PRIMARY KEY (organization_id, api_key_id, route, status_class, hour)
);
CREATE INDEX usage_hourly_org_hour ON usage_hourly (organization_id, hour);

-- Instants inside an hour where an organization's counters are cut (plan
-- changes not on an hour boundary), so stretches bill exactly.
CREATE TABLE usage_cuts (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    at              BIGINT NOT NULL,
    PRIMARY KEY (organization_id, at)
);

INSERT INTO usage_cuts (organization_id, at)
SELECT DISTINCT organization_id, created_at FROM plan_changes
WHERE created_at % 3600000 <> 0;

-- Backfill from the raw log.
INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests)
SELECT organization_id, key_id, route, status_class, bucket, CAST(COUNT(*) AS BIGINT)
FROM (
    SELECT r.organization_id,
           COALESCE(r.api_key_id, '') AS key_id,
           r.method || ' ' || r.endpoint AS route,
           r.status / 100 AS status_class,
           COALESCE(
               (SELECT MAX(c.at) FROM usage_cuts c
                WHERE c.organization_id = r.organization_id
                  AND c.at <= r.created_at
                  AND c.at >= r.created_at - r.created_at % 3600000),
               r.created_at - r.created_at % 3600000
           ) AS bucket
    FROM usage_records r
) AS raw
GROUP BY organization_id, key_id, route, status_class, bucket;

-- The raw log's retention purge.
CREATE INDEX usage_records_time ON usage_records (created_at);
