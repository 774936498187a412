//! One-time notices ("flash"): what a form's answer says after it redirects
//! (Post/Redirect/Get), shown by the next page the same browser session
//! opens, and by no page after it.
//!
//! A handler that created or changed something answers
//! `Page::redirect_with(&state, &visitor, path, Flash::notice("Key created."))`:
//! the notice is stored in the database (Landlord runs as several stateless
//! instances, so neither in memory nor in a cookie), bound to the visitor's
//! session (its refresh-token family; a signed-out browser's forms, to its
//! CSRF cookie), and taken — read and deleted — by the first page that
//! session renders ([`crate::base`]); a reload shows it no more. A notice may carry secrets shown this once (a new API key, a
//! webhook signing secret): they are sealed with the server's payload key,
//! bound to the session and the notice, never stored in plain. Notices left
//! unread expire after [`FLASH_TTL`] and are purged when any is taken.

use std::collections::BTreeMap;
use std::time::Duration;

use landlord_core::ids::FlashId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store::{self as identity_store, FlashRow};
use serde_json::{json, Map, Value};

use crate::session::Visitor;
use crate::web::{Page, PageError};
use crate::ConsoleState;

/// How long a notice waits for its page: a redirect is followed at once;
/// a secret should not linger.
pub const FLASH_TTL: Duration = Duration::from_secs(5 * 60);

/// A notice for the next page: a plain sentence, and optionally secrets
/// shown once.
#[derive(Clone)]
pub struct Flash {
    notice: String,
    kind: Option<String>,
    details: Map<String, Value>,
    secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for Flash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flash")
            .field("notice", &self.notice)
            .field("kind", &self.kind)
            .field("details", &self.details)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Flash {
    /// A plain sentence ("Key created.").
    pub fn notice(notice: impl Into<String>) -> Self {
        Self {
            notice: notice.into(),
            kind: None,
            details: Map::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// A sentence and a secret shown this once (the page reads it as
    /// `flash.secret`), of `kind` (the page that shows it picks its words
    /// by it, e.g. `api_key`).
    pub fn secret(notice: impl Into<String>, kind: &str, secret: impl Into<String>) -> Self {
        let mut flash = Self::notice(notice);
        flash.kind = Some(kind.to_owned());
        flash.secrets.insert("secret".into(), secret.into());
        flash
    }

    /// Another secret beside the first (`flash.secrets.{name}`), sealed
    /// with it.
    pub fn also_secret(mut self, name: &str, secret: impl Into<String>) -> Self {
        self.secrets.insert(name.to_owned(), secret.into());
        self
    }

    /// A value that is not secret, for the page (`flash.details.{name}`):
    /// an id, a name, a date.
    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.details.insert(name.to_owned(), value.into());
        self
    }

    /// The sentence.
    pub fn text(&self) -> &str {
        &self.notice
    }
}

/// What the sealed secrets are bound to: a sealed value copied to another
/// session's or another notice's row does not open.
fn seal_context(owner: &str, id: &FlashId) -> Vec<u8> {
    format!("console flash {owner} {id}").into_bytes()
}

/// Stores `flash` for `owner` (a session, or a signed-out browser),
/// replacing one not yet shown.
pub async fn put(state: &ConsoleState, owner: &str, flash: Flash) -> Result<(), PageError> {
    let identity = state.identity();
    let id = FlashId::generate();
    let sealed = if flash.secrets.is_empty() {
        None
    } else {
        let plain = serde_json::to_vec(&flash.secrets).map_err(ApiError::internal)?;
        let sealed = identity
            .payload_cipher
            .seal(&plain, &seal_context(owner, &id))
            .map_err(ApiError::internal)?;
        Some(sealed)
    };
    let details = (!flash.details.is_empty()).then(|| Value::Object(flash.details).to_string());
    let row = FlashRow {
        id,
        notice: flash.notice,
        kind: flash.kind,
        details,
        sealed,
    };
    let mut conn = identity.db.pool().acquire().await.map_err(ApiError::from)?;
    identity_store::put_flash(&mut conn, owner, &row, Timestamp::now().plus(FLASH_TTL))
        .await
        .map_err(ApiError::from)?;
    Ok(())
}

/// Takes `owner`'s notice, if one waits: the layout's `flash` (`notice`,
/// `kind`, `details`, and `secret`/`secrets` when it carries any). It is
/// deleted as it is read.
pub async fn take(state: &ConsoleState, owner: &str) -> Result<Option<Value>, PageError> {
    let identity = state.identity();
    let mut conn = identity.db.pool().acquire().await.map_err(ApiError::from)?;
    let Some(row) = identity_store::take_flash(&mut conn, owner, Timestamp::now())
        .await
        .map_err(ApiError::from)?
    else {
        return Ok(None);
    };
    let details = row
        .details
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .unwrap_or_else(|| json!({}));
    let mut view = json!({ "notice": row.notice, "kind": row.kind, "details": details });
    if let Some(sealed) = &row.sealed {
        let opened = identity
            .payload_cipher
            .open(sealed, &seal_context(owner, &row.id))
            .ok()
            .and_then(|plain| serde_json::from_slice::<BTreeMap<String, String>>(&plain).ok());
        match opened {
            Some(secrets) => {
                view["secret"] = secrets.get("secret").cloned().into();
                view["secrets"] = json!(secrets);
            }
            // Sealed by an instance with another payload key: the notice
            // still reads, the secret is lost (never shown garbled).
            None => tracing::warn!("a console notice's secret cannot be opened"),
        }
    }
    Ok(Some(view))
}

impl Page {
    /// 303 See Other to `location`, whose page will show `flash` once: the
    /// answer of a form that created or changed something. The notice is
    /// the visitor's session's (a signed-out browser's: its CSRF cookie's);
    /// a visitor with neither is only redirected.
    pub async fn redirect_with(
        state: &ConsoleState,
        visitor: &Visitor,
        location: impl Into<String>,
        flash: Flash,
    ) -> Result<Page, PageError> {
        if let Some(owner) = visitor.flash_owner() {
            put(state, &owner, flash).await?;
        }
        Ok(Page::redirect(location))
    }
}
