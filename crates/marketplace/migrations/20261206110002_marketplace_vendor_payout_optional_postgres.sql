-- PostgreSQL: a store applies, and is approved, without a payout account
-- (`payout_provider` and `payout_account` become optional, both or
-- neither), and an operator may reject an application (`rejected`, its
-- reason in `suspended_reason`). The same change as the SQLite migration
-- beside it, made in place.
ALTER TABLE marketplace_vendors
    ALTER COLUMN payout_provider DROP NOT NULL,
    ALTER COLUMN payout_account DROP NOT NULL;
ALTER TABLE marketplace_vendors DROP CONSTRAINT marketplace_vendors_status_check;
ALTER TABLE marketplace_vendors ADD CONSTRAINT marketplace_vendors_status_check
    CHECK (status IN ('pending', 'approved', 'suspended', 'rejected'));
ALTER TABLE marketplace_vendors ADD CONSTRAINT marketplace_vendors_payout_check
    CHECK ((payout_provider IS NULL) = (payout_account IS NULL));
