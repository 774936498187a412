-- Operator alerts read the last hours' counters of every organization
-- (the 5xx rate when the raw request log is off): by hour, not by
-- organization first.
CREATE INDEX usage_hourly_hour ON usage_hourly (hour);
