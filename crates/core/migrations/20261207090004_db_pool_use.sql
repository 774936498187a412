-- Each instance's database pool use, reported every few seconds (the mean
-- of its samples since the last report), so that the alert on a pool near
-- its limit sees every instance's figure, whichever instance evaluates.
CREATE TABLE db_pool_use (
    instance        TEXT PRIMARY KEY,
    in_use          DOUBLE PRECISION NOT NULL, -- connections in use (mean)
    max_connections BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX db_pool_use_updated_at ON db_pool_use (updated_at);
