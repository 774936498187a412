-- Addresses Landlord no longer mails: a permanent SMTP refusal (5xx), a
-- permanent bounce or a complaint reported by the provider's bounce
-- webhook. The address is kept lowercased; an operator lifts it by
-- deleting the row.
CREATE TABLE mail_suppressions (
    address     TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    smtp_code   BIGINT,
    description TEXT,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX mail_suppressions_created ON mail_suppressions (created_at);
