//! The marketplace's permissions and their `needs` marker types; the binary
//! adds [`PERMISSIONS`] to the documentation's matrix.

landlord_identity::permissions! {
    /// The marketplace's permissions, in the documentation table's order.
    pub const PERMISSIONS = [
        /// Apply to sell, edit the store and its payout account, reply to
        /// reviews.
        MANAGE_STORE, ManageStore = "manage_store": Owner, Admin;
        /// Create and change the store's products.
        MANAGE_PRODUCTS, ManageProducts = "manage_products": Owner, Admin, Member;
        /// See the store's orders and move them along (processing, shipped,
        /// delivered, cancelled).
        FULFIL_ORDERS, FulfilOrders = "fulfil_orders": Owner, Admin, Member;
        /// The store's ledger and payouts.
        VIEW_EARNINGS, ViewEarnings = "view_earnings": Owner, Admin;
    ];
}

#[cfg(test)]
mod tests {
    use landlord_identity::permissions::allows;
    use landlord_identity::Role::{Admin, Member, Owner};

    use super::*;

    /// The marketplace's rows, one by one, as the product defines them (and
    /// the docs publish them).
    #[test]
    fn the_rows_match_the_product_row_by_row() {
        let expect = |permission, owner, admin, member| {
            assert_eq!(allows(Owner, permission), owner, "{permission:?} owner");
            assert_eq!(allows(Admin, permission), admin, "{permission:?} admin");
            assert_eq!(allows(Member, permission), member, "{permission:?} member");
        };
        expect(MANAGE_STORE, true, true, false);
        expect(MANAGE_PRODUCTS, true, true, true);
        expect(FULFIL_ORDERS, true, true, true);
        expect(VIEW_EARNINGS, true, true, false);
        assert_eq!(
            PERMISSIONS,
            &[MANAGE_STORE, MANAGE_PRODUCTS, FULFIL_ORDERS, VIEW_EARNINGS]
        );
    }
}
