//! The Apps module's permissions and their `needs` marker types; the binary
//! adds [`PERMISSIONS`] to the documentation's matrix.

landlord_identity::permissions! {
    /// The module's permissions, in the documentation table's order.
    pub const PERMISSIONS = [
        /// Create the organization's apps, change them, see and rotate
        /// their credentials, submit them for review, delete them.
        MANAGE_APPS, ManageApps = "manage_apps": Owner, Admin;
        /// Install an app into the organization (consenting to its
        /// organization scopes) and uninstall it.
        INSTALL_APPS, InstallApps = "install_apps": Owner, Admin;
        /// See which apps the organization installed.
        VIEW_INSTALLED_APPS, ViewInstalledApps = "view_installed_apps": Owner, Admin, Member;
    ];
}

#[cfg(test)]
mod tests {
    use landlord_identity::permissions::allows;
    use landlord_identity::Role::{Admin, Member, Owner};

    use super::*;

    /// The module's rows, one by one, as the product defines them.
    #[test]
    fn the_rows_match_the_product_row_by_row() {
        let expect = |permission, owner, admin, member| {
            assert_eq!(allows(Owner, permission), owner, "{permission:?} owner");
            assert_eq!(allows(Admin, permission), admin, "{permission:?} admin");
            assert_eq!(allows(Member, permission), member, "{permission:?} member");
        };
        expect(MANAGE_APPS, true, true, false);
        expect(INSTALL_APPS, true, true, false);
        expect(VIEW_INSTALLED_APPS, true, true, true);
        assert_eq!(
            PERMISSIONS,
            &[MANAGE_APPS, INSTALL_APPS, VIEW_INSTALLED_APPS]
        );
    }
}
