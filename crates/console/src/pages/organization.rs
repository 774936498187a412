//! The console's root (`/`): the signed-in person's organization, or the
//! sign-in page.

use axum::routing::get;
use axum::Router;

use crate::session::Visitor;
use crate::web::Page;
use crate::ConsoleState;

pub(crate) fn routes() -> Router<ConsoleState> {
    Router::new().route("/", get(home))
}

/// `GET /`: the overview when signed in, the sign-in page otherwise.
pub async fn home(visitor: Visitor) -> Page {
    match &visitor.user {
        Some(user) => Page::redirect(format!("/o/{}", user.organization_id)),
        None => Page::redirect("/sign-in"),
    }
}
