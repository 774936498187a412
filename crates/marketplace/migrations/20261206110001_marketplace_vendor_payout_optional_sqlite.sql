-- SQLite: a store applies, and is approved, without a payout account
-- (`payout_provider` and `payout_account` become optional, both or
-- neither), and an operator may reject an application (`rejected`, its
-- reason in `suspended_reason`). SQLite changes neither a column's NOT
-- NULL nor a CHECK in place, so the table is rebuilt; the database
-- migrates with foreign keys off (see `Db::migrate`), so dropping the old
-- table deletes nothing of the products, vendor orders, ledger and
-- payouts that refer to it by name, and the key check runs after.
CREATE TABLE marketplace_vendors_rebuilt (
    organization_id  TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    store_name       TEXT NOT NULL,
    slug             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    latitude         DOUBLE PRECISION,
    longitude        DOUBLE PRECISION,
    location_label   TEXT,
    payout_provider  TEXT CHECK (payout_provider IN ('stripe', 'paystack')),
    payout_account   TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'suspended', 'rejected')),
    suspended_reason TEXT,
    rating_sum       BIGINT NOT NULL DEFAULT 0,
    rating_count     BIGINT NOT NULL DEFAULT 0,
    approved_at      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CHECK ((payout_provider IS NULL) = (payout_account IS NULL))
);
INSERT INTO marketplace_vendors_rebuilt (organization_id, store_name, slug, description,
    latitude, longitude, location_label, payout_provider, payout_account, status,
    suspended_reason, rating_sum, rating_count, approved_at, created_at, updated_at)
SELECT organization_id, store_name, slug, description, latitude, longitude, location_label,
    payout_provider, payout_account, status, suspended_reason, rating_sum, rating_count,
    approved_at, created_at, updated_at
FROM marketplace_vendors;
DROP TABLE marketplace_vendors;
ALTER TABLE marketplace_vendors_rebuilt RENAME TO marketplace_vendors;
CREATE INDEX marketplace_vendors_status ON marketplace_vendors (status, created_at);
