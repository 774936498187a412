//! The Apps module's console pages.

use landlord_console::Module;

use crate::AppsState;

/// The module's pages, templates and navigation entries.
pub fn console_pages(_apps: AppsState) -> Module {
    Module::new("apps")
}
