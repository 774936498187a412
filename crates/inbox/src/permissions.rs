//! The inbox's permissions and their `needs` marker types; the binary adds
//! [`PERMISSIONS`] to the documentation's matrix.

landlord_identity::permissions! {
    /// The inbox's permissions, in the documentation table's order.
    pub const PERMISSIONS = [
        /// Read conversations, reply, change status and labels, take a
        /// conversation (assign it to oneself).
        USE_INBOX, UseInbox = "use_inbox": Owner, Admin, Member;
        /// Assign conversations to anyone.
        ASSIGN_CONVERSATIONS, AssignConversations = "assign_conversations": Owner, Admin;
        /// Connect channels, manage canned responses and templates.
        MANAGE_INBOX, ManageInbox = "manage_inbox": Owner, Admin;
    ];
}

#[cfg(test)]
mod tests {
    use landlord_identity::permissions::allows;
    use landlord_identity::Role::{Admin, Member, Owner};

    use super::*;

    /// The inbox's rows, one by one, as the product defines them (and the
    /// docs publish them).
    #[test]
    fn the_rows_match_the_product_row_by_row() {
        let expect = |permission, owner, admin, member| {
            assert_eq!(allows(Owner, permission), owner, "{permission:?} owner");
            assert_eq!(allows(Admin, permission), admin, "{permission:?} admin");
            assert_eq!(allows(Member, permission), member, "{permission:?} member");
        };
        expect(USE_INBOX, true, true, true);
        expect(ASSIGN_CONVERSATIONS, true, true, false);
        expect(MANAGE_INBOX, true, true, false);
        assert_eq!(
            PERMISSIONS,
            &[USE_INBOX, ASSIGN_CONVERSATIONS, MANAGE_INBOX]
        );
    }
}
