-- Claiming a job looks at the running job whose lease lapsed first: this
-- index finds it without reading the others.
CREATE INDEX jobs_lapsed ON jobs (status, locked_until);
