//! The public directory: published apps, searched by name, description or
//! category, in cursor pages; an app's page by its slug.

use std::collections::HashMap;

use landlord_core::http::{Meta, PageQuery};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ids::AppId;
use crate::registry::CATEGORIES;
use crate::scopes::{self, ScopeSet};
use crate::store::{self, AppRow, DirectoryFilter};
use crate::AppsState;

/// Longest search.
pub const MAX_QUERY_CHARS: usize = 100;

/// `GET /directory/apps`'s query.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Words found in an app's name, description or category (case does
    /// not matter).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// One of the directory's categories.
    #[param(value_type = Option<DirectoryCategory>)]
    pub category: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (left out or empty: the
    /// first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// A directory category (an empty value: every category).
pub struct DirectoryCategory;

impl utoipa::PartialSchema for DirectoryCategory {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut values: Vec<&str> = vec![""];
        values.extend(CATEGORIES);
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(values))
            .into()
    }
}

impl ToSchema for DirectoryCategory {}

/// A scope and what it lets the app do, in words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScopeView {
    pub name: String,
    /// Completes "This app will be able to …".
    pub description: String,
}

impl ScopeView {
    pub fn of(set: &ScopeSet) -> Vec<ScopeView> {
        set.iter()
            .map(|name| ScopeView {
                name: name.to_owned(),
                description: scopes::find(name)
                    .map_or_else(|| name.to_owned(), |s| s.words.to_owned()),
            })
            .collect()
    }
}

/// Who publishes an app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublisherView {
    pub organization_id: OrganizationId,
    /// The publishing organization's name.
    pub name: String,
}

/// An app as the directory shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DirectoryAppView {
    /// Also its OAuth `client_id`.
    pub id: AppId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub icon_url: Option<String>,
    pub homepage_url: Option<String>,
    pub publisher: PublisherView,
    /// What an organization that installs it consents to.
    pub organization_scopes: Vec<ScopeView>,
    pub published_at: Option<Timestamp>,
}

impl DirectoryAppView {
    pub fn new(row: AppRow, publisher_name: String) -> Self {
        Self {
            organization_scopes: ScopeView::of(&ScopeSet::from_json(&row.organization_scopes)),
            publisher: PublisherView {
                organization_id: row.organization_id,
                name: publisher_name,
            },
            id: row.id,
            slug: row.slug,
            name: row.name,
            description: row.description,
            category: row.category,
            icon_url: row.icon_url,
            homepage_url: row.homepage_url,
            published_at: row.published_at,
        }
    }
}

/// The names of the organizations that publish `rows`.
async fn publisher_names(
    state: &AppsState,
    rows: &[AppRow],
) -> Result<HashMap<OrganizationId, String>, ApiError> {
    let mut names = HashMap::new();
    for row in rows {
        if names.contains_key(&row.organization_id) {
            continue;
        }
        let name =
            landlord_identity::store::organization_by_id(state.db.pool(), &row.organization_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_default();
        names.insert(row.organization_id.clone(), name);
    }
    Ok(names)
}

async fn views(state: &AppsState, rows: Vec<AppRow>) -> Result<Vec<DirectoryAppView>, ApiError> {
    let names = publisher_names(state, &rows).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let name = names.get(&row.organization_id).cloned().unwrap_or_default();
            DirectoryAppView::new(row, name)
        })
        .collect())
}

/// One page of the directory.
pub async fn list(
    state: &AppsState,
    query: &DirectoryQuery,
) -> Result<(Vec<DirectoryAppView>, Meta), ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .page()?;
    // A NUL is no text either backend stores: it matches nothing anyway.
    let q = query.q.as_deref().map(|q| q.replace('\0', ""));
    let q = q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::invalid_field(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let category = query.category.as_deref().filter(|c| !c.is_empty());
    if category.is_some_and(|c| !CATEGORIES.contains(&c)) {
        return Err(ApiError::invalid_field(
            "category",
            format!("must be one of {}", CATEGORIES.join(", ")),
        ));
    }
    let before = page.cursor.as_deref().map(AppId::from_trusted);
    let mut rows = store::directory(
        state.db.pool(),
        DirectoryFilter {
            q,
            category,
            before: before.as_ref(),
            limit: page.fetch(),
        },
    )
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    Ok((views(state, rows).await?, meta))
}

/// The published app `slug`, or 404 (drafts, apps in review and suspended
/// apps are not in the directory).
pub async fn find(state: &AppsState, slug: &str) -> Result<DirectoryAppView, ApiError> {
    if crate::slug::check_shape(slug).is_err() {
        return Err(ApiError::not_found("app"));
    }
    let row = store::published_app(state.db.pool(), slug)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    Ok(views(state, vec![row]).await?.remove(0))
}
