//! The module's tables (every `apps*`, `app_*` and `oauth_*` table; SQL
//! lives only here). Reads of an organization's apps take its id, so
//! another tenant's ids find nothing.

mod apps;
mod codes;
mod consents;
mod installations;
mod tokens;

pub use apps::*;
pub use codes::*;
pub use consents::*;
pub use installations::*;
pub use tokens::*;
mod keys;
pub use keys::*;
mod authorized;
pub use authorized::*;
pub mod gateway;
pub mod traffic;

landlord_core::text_enum!(
    /// Where an app stands: only published apps are in the directory and
    /// can be installed; a suspended app signs no one in and its tokens
    /// stop working.
    pub enum AppStatus {
        Draft = "draft",
        /// Submitted; a platform administrator publishes or suspends it.
        InReview = "in_review",
        Published = "published",
        Suspended = "suspended",
    }
);

landlord_core::text_enum!(
    /// How an app proves it is itself at the token endpoint.
    pub enum ClientType {
        /// A browser or mobile app: no secret, PKCE only.
        Public = "public",
        /// A server: a client secret (shown once, stored hashed) and PKCE.
        Confidential = "confidential",
    }
);

landlord_core::text_enum!(
    pub enum TokenKind {
        Access = "access",
        Refresh = "refresh",
    }
);
pub mod domains;
