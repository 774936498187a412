-- Short leases, renewed while work runs, so that a dead instance's work is
-- taken over within seconds.

-- Each claim of a job gets its own token: an outcome (done, retry, dead) or
-- a renewal applies only while the claim that made it is still the job's.
ALTER TABLE jobs ADD COLUMN lease_token TEXT;

-- An Idempotency-Key claim still being processed holds its key until this
-- time (renewed while its request runs); past it, a retry may take it over.
-- NULL on claims made before this column existed: their creation time
-- plus a lease stands in.
ALTER TABLE idempotency_keys ADD COLUMN locked_until BIGINT;

-- The attempt holding a delivery's lock (its in-flight attempt's id), so
-- that only that attempt renews the lock and records its outcome.
ALTER TABLE webhook_deliveries ADD COLUMN lock_token TEXT;

-- An attempt is logged before its request is sent: `in_flight` until it
-- ends (`completed`), or `interrupted` when its instance died meanwhile and
-- a later attempt found it unfinished.
ALTER TABLE webhook_attempts ADD COLUMN outcome TEXT NOT NULL DEFAULT 'completed'
    CHECK (outcome IN ('in_flight', 'completed', 'interrupted'));
