-- Requests answered per minute, by status class (2 for 2xx …), across
-- organizations: added by every instance's usage writer, in the same
-- transaction as the raw request log, and kept as long as it. The 5xx rate
-- alert reads one row a minute of its window here instead of counting the
-- raw log's rows, which grew with the traffic.
CREATE TABLE usage_minutely (
    minute       BIGINT NOT NULL, -- the minute's start, Unix ms
    status_class BIGINT NOT NULL,
    requests     BIGINT NOT NULL,
    PRIMARY KEY (minute, status_class)
);
