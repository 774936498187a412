//! The apps a person authorized (signed in to with their Landlord account)
//! and revoking one: the consent and every token it produced stop at once.
//! The account page and the API both call these.

use std::collections::BTreeMap;

use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::AppId;
use crate::scopes::{self, ScopeSet};
use crate::store::{self, AuthorizedAppRow};
use crate::AppsState;

/// A scope with the words the consent page showed for it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantedScope {
    pub name: String,
    /// Completes "The app can …".
    pub words: String,
}

/// The organization that publishes an app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Publisher {
    pub id: OrganizationId,
    pub name: String,
}

/// An app the person authorized: what it may do and since when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthorizedApp {
    pub app_id: AppId,
    pub name: String,
    pub slug: String,
    pub icon_url: Option<String>,
    pub homepage_url: Option<String>,
    pub publisher: Publisher,
    /// Every scope granted (over all of the person's consents to the app).
    pub scopes: Vec<GrantedScope>,
    /// When the person first allowed it.
    pub authorized_at: Timestamp,
    /// When they last allowed it (more scopes, another organization).
    pub updated_at: Timestamp,
}

fn words(name: &str) -> String {
    scopes::find(name)
        .map(|s| s.words.to_owned())
        .unwrap_or_else(|| name.to_owned())
}

/// The person's consents, one entry per app (a person may have consented
/// to an app more than once: for another organization, or more scopes);
/// `publishers` names the publishing organizations.
pub fn by_app(
    rows: Vec<AuthorizedAppRow>,
    publishers: &BTreeMap<OrganizationId, String>,
) -> Vec<AuthorizedApp> {
    let mut order: Vec<AppId> = Vec::new();
    let mut apps: BTreeMap<AppId, (AuthorizedApp, ScopeSet)> = BTreeMap::new();
    for row in rows {
        let granted = ScopeSet::from_json(&row.scopes);
        match apps.get_mut(&row.app_id) {
            Some((app, set)) => {
                *set = ScopeSet::from_names(set.iter().chain(granted.iter()).map(str::to_owned));
                app.authorized_at = app.authorized_at.min(row.created_at);
                app.updated_at = app.updated_at.max(row.updated_at);
            }
            None => {
                order.push(row.app_id.clone());
                let app = AuthorizedApp {
                    app_id: row.app_id.clone(),
                    name: row.app_name,
                    slug: row.app_slug,
                    icon_url: row.icon_url,
                    homepage_url: row.homepage_url,
                    publisher: Publisher {
                        name: publishers
                            .get(&row.publisher_id)
                            .cloned()
                            .unwrap_or_default(),
                        id: row.publisher_id,
                    },
                    scopes: Vec::new(),
                    authorized_at: row.created_at,
                    updated_at: row.updated_at,
                };
                apps.insert(row.app_id, (app, granted));
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| apps.remove(&id))
        .map(|(mut app, set)| {
            // The catalog's order (as the consent page lists them).
            let mut names = set.names();
            names.sort_by_key(|name| {
                scopes::SCOPES
                    .iter()
                    .position(|s| s.name == name)
                    .unwrap_or(usize::MAX)
            });
            app.scopes = names
                .into_iter()
                .map(|name| GrantedScope {
                    words: words(&name),
                    name,
                })
                .collect();
            app
        })
        .collect()
}

/// The apps `user_id` authorized and has not revoked, most recent first.
pub async fn list(state: &AppsState, user_id: &UserId) -> Result<Vec<AuthorizedApp>, ApiError> {
    let rows = store::authorized_apps(state.db.pool(), user_id).await?;
    let mut publishers = BTreeMap::new();
    for row in &rows {
        if !publishers.contains_key(&row.publisher_id) {
            let name =
                landlord_identity::store::organization_by_id(state.db.pool(), &row.publisher_id)
                    .await?
                    .map(|organization| organization.name)
                    .unwrap_or_default();
            publishers.insert(row.publisher_id.clone(), name);
        }
    }
    Ok(by_app(rows, &publishers))
}

/// Revokes `user_id`'s authorization of `app_id`: its consents and every
/// token the app holds for the person, in one transaction. 404 when the
/// person had not authorized the app (or revoked it already).
pub async fn revoke(
    state: &AppsState,
    user_id: &UserId,
    client: &ClientInfo,
    app_id: &AppId,
) -> Result<(), ApiError> {
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let consents = store::revoke_consents_of(&mut *tx, user_id, app_id, now).await?;
    if consents.is_empty() {
        return Err(ApiError::not_found("authorized app"));
    }
    let mut tokens = 0;
    for consent in &consents {
        tokens += store::revoke_consent_tokens(&mut *tx, consent, now).await?;
    }
    tokens += store::revoke_user_app_tokens(&mut *tx, user_id, app_id, now).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("app.authorization_revoked")
            .actor(user_id)
            .client(client)
            .target("app", app_id)
            .details(serde_json::json!({ "tokens_revoked": tokens })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(app = %app_id, tokens, "a person revoked an app's authorization");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(app: &str, scopes: &str, created: i64) -> AuthorizedAppRow {
        AuthorizedAppRow {
            consent_id: crate::ids::ConsentId::generate(),
            app_id: AppId::from_trusted(app),
            app_name: format!("App {app}"),
            app_slug: app.into(),
            icon_url: None,
            homepage_url: None,
            publisher_id: OrganizationId::from_trusted("org"),
            organization_id: None,
            scopes: scopes.into(),
            created_at: Timestamp::from_millis(created),
            updated_at: Timestamp::from_millis(created),
        }
    }

    #[test]
    fn consents_to_one_app_are_shown_once_with_every_scope_in_words() {
        let publishers = BTreeMap::from([(OrganizationId::from_trusted("org"), "Acme".into())]);
        let apps = by_app(
            vec![
                row("b", r#"["email","openid"]"#, 30),
                row("a", r#"["openid"]"#, 20),
                row("b", r#"["openid","profile"]"#, 10),
            ],
            &publishers,
        );
        assert_eq!(apps[0].publisher.name, "Acme");
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].slug, "b");
        let names: Vec<&str> = apps[0].scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["openid", "profile", "email"]);
        assert_eq!(apps[0].scopes[1].words, "see your name");
        assert_eq!(apps[0].authorized_at, Timestamp::from_millis(10));
        assert_eq!(apps[0].updated_at, Timestamp::from_millis(30));
        assert_eq!(apps[1].slug, "a");
    }
}
