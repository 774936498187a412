-- Optional per-key rate limit, on top of the organization's plan limit.
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute BIGINT;
