//! Applying to sell, the store's settings, and the operator's approval
//! and suspension. A vendor is an organization; its plan sets the fee.

use landlord_audit::AuditEntry;
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store as identity_store;
use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::config::MarketplaceConfig;
use crate::store::{self, PayoutProvider, VendorRow, VendorStatus};
use crate::views::{Location, PayoutAccount, VendorView};
use crate::MarketplaceState;

/// `POST /marketplace/vendor`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub store_name: String,
    /// The store's address in the storefront: lowercase letters, digits
    /// and single hyphens, unique across the marketplace.
    #[schema(min_length = 2, max_length = 60, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub location: Option<Location>,
    /// Where payouts go; optional: a store applies and is approved
    /// without one, and its payouts wait until it adds one (`PATCH`).
    pub payout: Option<PayoutAccount>,
}

/// `PATCH /marketplace/vendor`: the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVendorRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub store_name: Option<String>,
    #[schema(min_length = 2, max_length = 60, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub location: Option<Location>,
    pub payout: Option<PayoutAccount>,
}

pub fn check_slug(field: &str, slug: &str) -> Result<(), ApiError> {
    let well_formed = (2..=60).contains(&slug.len())
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !well_formed {
        return Err(ApiError::invalid_field(
            field,
            "must be 2 to 60 lowercase letters, digits and single hyphens",
        ));
    }
    Ok(())
}

pub fn check_text(field: &str, text: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let length = text.chars().count();
    if length < min || length > max || (min > 0 && text.trim().is_empty()) {
        return Err(ApiError::invalid_field(
            field,
            if min > 0 {
                format!("must be {min} to {max} characters, not blank")
            } else {
                format!("must be at most {max} characters")
            },
        ));
    }
    Ok(())
}

pub fn check_location(field: &str, location: &Location) -> Result<(), ApiError> {
    if !(-90.0..=90.0).contains(&location.latitude) {
        return Err(ApiError::invalid_field(
            &format!("{field}.latitude"),
            "must be between -90 and 90",
        ));
    }
    if !(-180.0..=180.0).contains(&location.longitude) {
        return Err(ApiError::invalid_field(
            &format!("{field}.longitude"),
            "must be between -180 and 180",
        ));
    }
    if let Some(label) = &location.label {
        check_text(&format!("{field}.label"), label, 0, 100)?;
    }
    Ok(())
}

fn check_payout(state: &MarketplaceState, payout: &PayoutAccount) -> Result<(), ApiError> {
    let (name, prefix) = match payout.provider {
        PayoutProvider::Stripe => ("Stripe", "acct_"),
        PayoutProvider::Paystack => ("Paystack", "RCP_"),
    };
    let rest = payout.account.strip_prefix(prefix);
    let well_formed = payout.account.len() <= 100
        && rest.is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !well_formed {
        return Err(ApiError::invalid_field(
            "payout.account",
            format!("a {name} account looks like {prefix}… (letters and digits)"),
        ));
    }
    if !state.client.configured(payout.provider) {
        return Err(ApiError::invalid_field(
            "payout.provider",
            format!("{name} is not configured on this server: an operator adds its keys first"),
        ));
    }
    Ok(())
}

/// The fee, in basis points, on the organization's plan.
pub async fn fee_bps(
    state: &MarketplaceState,
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
) -> Result<u32, ApiError> {
    let plan = identity_store::organization_by_id(&mut *conn, organization_id)
        .await?
        .map(|o| o.plan)
        .unwrap_or_default();
    Ok(state
        .config
        .section::<MarketplaceConfig>()
        .fee_bps_for(&plan))
}

pub async fn view(state: &MarketplaceState, row: VendorRow) -> Result<VendorView, ApiError> {
    let mut conn = state.db.pool().acquire().await?;
    let bps = fee_bps(state, &mut conn, &row.organization_id).await?;
    Ok(VendorView::new(row, bps))
}

fn slug_taken() -> ApiError {
    ApiError::Conflict("slug: another store has this address".into())
}

/// An organization applies to sell; an operator approves it later.
pub async fn apply(
    state: &MarketplaceState,
    organization_id: &OrganizationId,
    body: ApplyRequest,
) -> Result<VendorView, ApiError> {
    check_text("store_name", &body.store_name, 1, 100)?;
    check_slug("slug", &body.slug)?;
    let description = body.description.unwrap_or_default();
    check_text("description", &description, 0, 2000)?;
    if let Some(location) = &body.location {
        check_location("location", location)?;
    }
    if let Some(payout) = &body.payout {
        check_payout(state, payout)?;
    }
    let db = &state.db;
    let existing = store::vendor(db.pool(), organization_id).await?;
    if existing
        .as_ref()
        .is_some_and(|v| v.status != VendorStatus::Rejected)
    {
        return Err(ApiError::Conflict(
            "this organization has applied to sell already (PATCH /marketplace/vendor changes it)"
                .into(),
        ));
    }
    let now = Timestamp::now();
    let location = body.location;
    let row = VendorRow {
        organization_id: organization_id.clone(),
        store_name: body.store_name.trim().to_string(),
        slug: body.slug,
        description,
        latitude: location.as_ref().map(|l| l.latitude),
        longitude: location.as_ref().map(|l| l.longitude),
        location_label: location.and_then(|l| l.label),
        payout_provider: body.payout.as_ref().map(|p| p.provider),
        payout_account: body.payout.map(|p| p.account),
        status: VendorStatus::Pending,
        suspended_reason: None,
        rating_sum: 0,
        rating_count: 0,
        approved_at: None,
        created_at: now,
        updated_at: now,
    };
    if let Some(rejected) = existing {
        return apply_again(state, rejected, row).await;
    }
    let mut tx = db.begin().await?;
    match store::insert_vendor(&mut *tx, &row).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // The organization raced itself, or the slug is taken.
            return Err(
                if store::vendor(db.pool(), organization_id).await?.is_some() {
                    ApiError::Conflict("this organization has applied to sell already".into())
                } else {
                    slug_taken()
                },
            );
        }
        Err(e) => return Err(e.into()),
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("marketplace.vendor_applied")
            .organization(organization_id)
            .target("vendor", organization_id)
            .details(serde_json::json!({ "slug": row.slug })),
    )
    .await?;
    tx.commit().await?;
    view(state, row).await
}

/// A rejected store applies again with `row`'s fields (its payout
/// account kept unless a new one is sent): pending again, the operator's
/// reason cleared.
async fn apply_again(
    state: &MarketplaceState,
    rejected: VendorRow,
    mut row: VendorRow,
) -> Result<VendorView, ApiError> {
    if row.payout_account.is_none() {
        row.payout_provider = rejected.payout_provider;
        row.payout_account = rejected.payout_account;
    }
    row.created_at = rejected.created_at;
    row.rating_sum = rejected.rating_sum;
    row.rating_count = rejected.rating_count;
    let mut tx = state.db.begin().await?;
    match store::reapply_vendor(&mut *tx, &row).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::Conflict(
            "this organization has applied to sell already (PATCH /marketplace/vendor changes it)"
                .into(),
        )),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("marketplace.vendor_applied")
            .organization(&row.organization_id)
            .target("vendor", &row.organization_id)
            .details(serde_json::json!({ "slug": row.slug, "again": true })),
    )
    .await?;
    tx.commit().await?;
    view(state, row).await
}

pub async fn own(
    state: &MarketplaceState,
    organization_id: &OrganizationId,
) -> Result<VendorRow, ApiError> {
    store::vendor(state.db.pool(), organization_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "this organization does not sell on the marketplace (POST /marketplace/vendor applies)"
                    .into(),
            )
        })
}

pub async fn update(
    state: &MarketplaceState,
    organization_id: &OrganizationId,
    body: UpdateVendorRequest,
) -> Result<VendorView, ApiError> {
    let mut row = own(state, organization_id).await?;
    if let Some(name) = body.store_name {
        check_text("store_name", &name, 1, 100)?;
        row.store_name = name.trim().to_string();
    }
    if let Some(slug) = body.slug {
        check_slug("slug", &slug)?;
        row.slug = slug;
    }
    if let Some(description) = body.description {
        check_text("description", &description, 0, 2000)?;
        row.description = description;
    }
    if let Some(location) = body.location {
        check_location("location", &location)?;
        row.latitude = Some(location.latitude);
        row.longitude = Some(location.longitude);
        row.location_label = location.label;
    }
    if let Some(payout) = body.payout {
        check_payout(state, &payout)?;
        row.payout_provider = Some(payout.provider);
        row.payout_account = Some(payout.account);
    }
    row.updated_at = Timestamp::now();
    match store::update_vendor(state.db.pool(), &row).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    }
    view(state, row).await
}

/// An operator approves or suspends a vendor (recorded platform-wide).
pub async fn decide(
    state: &MarketplaceState,
    operator: &landlord_admin::PlatformAdmin,
    client: &landlord_core::http::client::ClientInfo,
    id: &OrganizationId,
    status: VendorStatus,
    reason: Option<String>,
) -> Result<VendorView, ApiError> {
    let not_found = || ApiError::not_found("vendor");
    if let Some(reason) = &reason {
        check_text("reason", reason, 1, 500)?;
    }
    let mut tx = state.db.begin().await?;
    if !store::set_vendor_status(&mut *tx, id, status, reason.as_deref(), Timestamp::now()).await? {
        return Err(not_found());
    }
    let action = match status {
        VendorStatus::Approved => "marketplace.vendor_approved",
        VendorStatus::Suspended => "marketplace.vendor_suspended",
        VendorStatus::Pending => "marketplace.vendor_pending",
        VendorStatus::Rejected => "marketplace.vendor_rejected",
    };
    landlord_audit::record(
        &mut *tx,
        operator
            .audit(client, action)
            .target("vendor", id)
            .details(serde_json::json!({ "reason": reason })),
    )
    .await?;
    tx.commit().await?;
    let row = store::vendor(state.db.pool(), id)
        .await?
        .ok_or_else(not_found)?;
    view(state, row).await
}

/// An operator turns a pending application down, with the reason the
/// store's team is shown; the store may change it and apply again.
/// Recorded platform-wide, like an approval.
pub async fn reject(
    state: &MarketplaceState,
    operator: &landlord_admin::PlatformAdmin,
    client: &landlord_core::http::client::ClientInfo,
    id: &OrganizationId,
    reason: &str,
) -> Result<VendorView, ApiError> {
    let reason = reason.trim();
    check_text("reason", reason, 1, 500)?;
    let mut tx = state.db.begin().await?;
    if !store::reject_vendor(&mut *tx, id, reason, Timestamp::now()).await? {
        return Err(match store::vendor(&mut *tx, id).await? {
            None => ApiError::not_found("vendor"),
            Some(_) => ApiError::Conflict(
                "only a store waiting for approval can be rejected (suspend an open store)".into(),
            ),
        });
    }
    landlord_audit::record(
        &mut *tx,
        operator
            .audit(client, "marketplace.vendor_rejected")
            .target("vendor", id)
            .details(serde_json::json!({ "reason": reason })),
    )
    .await?;
    tx.commit().await?;
    let row = store::vendor(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("vendor"))?;
    view(state, row).await
}
