use axum::Router;
use landlord_console::Module;

use super::Pages;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
}

/// This family's navigation entries.
pub(super) fn navigation(module: Module) -> Module {
    module
}
