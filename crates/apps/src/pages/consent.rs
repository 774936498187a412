use axum::Router;

use super::Pages;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
}
