-- A refund of a marketplace payment, written before the provider is
-- called so that it is made once: a retried or replayed refund job finds
-- the refund reference (and stops), or finds an attempt whose outcome is
-- unknown (a timeout, a lost answer, a worker that died) and asks the
-- provider for the payment's refunds before trying again. `refund_key`
-- names what is refunded (`refund_<vendor order>`, `late_<order>`): one
-- refund each, whatever number of events or jobs ask for it.
CREATE TABLE marketplace_refunds (
    id                 TEXT PRIMARY KEY,
    refund_key         TEXT NOT NULL UNIQUE,
    order_id           TEXT NOT NULL REFERENCES marketplace_orders(id) ON DELETE CASCADE,
    vendor_order_id    TEXT REFERENCES marketplace_vendor_orders(id) ON DELETE CASCADE,
    provider           TEXT NOT NULL CHECK (provider IN ('stripe', 'paystack')),
    payment_reference  TEXT NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'refunded', 'failed')),
    attempts           BIGINT NOT NULL DEFAULT 0,
    claimed_until      BIGINT,
    refund_reference   TEXT,
    last_error         TEXT,
    refunded_at        BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX marketplace_refunds_order ON marketplace_refunds (order_id);
