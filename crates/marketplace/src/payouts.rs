//! Vendor payouts. The ledger records what a vendor earned (when an order
//! is paid), what was reversed (a cancelled part) and what was paid out.
//! A sweep groups each vendor's delivered vendor orders older than the
//! hold into one payout per currency and queues its transfer; the transfer
//! job sends it with an idempotency key derived from the payout's id
//! (Stripe `Idempotency-Key: payout_<id>` and `transfer_group`, Paystack
//! `reference`), and before any attempt after the first asks the provider
//! whether an earlier one went through (Stripe's transfers of the group,
//! Paystack's verify by reference), so retries — ours, after a lost answer,
//! or an operator's days later when Stripe has forgotten the key — move the
//! money once. A payout
//! whose transfer is refused, or fails past its retries, is `failed` with
//! the provider's answer, for an operator to retry.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::events::{MarketplacePayoutFailedPayload, MarketplacePayoutPaidPayload};
use crate::ids::{LedgerEntryId, PayoutId};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Db, Timestamp};
use landlord_jobs::{Attempt, JobHandler, NewJob};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::provider::ProviderError;
use crate::store::{
    self, LedgerKind, LedgerRow, PayoutRow, PayoutStatus, VendorOrderRow, VendorStatus,
};
use crate::MarketplaceState;

pub const TRANSFER_JOB: &str = "marketplace.transfer";

fn transfer_job(id: &PayoutId) -> NewJob {
    NewJob::new(TRANSFER_JOB, serde_json::json!({ "payout": id }))
}

/// Creates the payouts that are due; returns how many.
pub async fn create_due(db: &Db, hold: Duration) -> anyhow::Result<usize> {
    let cutoff = Timestamp::now().minus(hold);
    let rows = store::payable_vendor_orders(db.pool(), cutoff, 1000).await?;
    let mut groups: BTreeMap<(OrganizationId, String), Vec<VendorOrderRow>> = BTreeMap::new();
    for row in rows {
        groups
            .entry((row.vendor_id.clone(), row.currency.clone()))
            .or_default()
            .push(row);
    }
    let mut created = 0;
    for ((vendor_id, currency), parts) in groups {
        let amount: i64 = parts.iter().map(|p| p.earnings).sum();
        let Some(vendor) = store::vendor(db.pool(), &vendor_id).await? else {
            continue;
        };
        // A suspended store's earnings wait until it is approved again,
        // and a store's without a payout account until it adds one: its
        // vendor orders stay unassigned, and the first sweep after pays them.
        if vendor.status != VendorStatus::Approved || amount <= 0 {
            continue;
        }
        let (Some(provider), Some(account)) =
            (vendor.payout_provider, vendor.payout_account.clone())
        else {
            continue;
        };
        let now = Timestamp::now();
        let payout = PayoutRow {
            id: PayoutId::generate(),
            vendor_id: vendor_id.clone(),
            amount,
            currency,
            provider,
            account,
            status: PayoutStatus::Pending,
            attempts: 0,
            transfer_reference: None,
            last_error: None,
            paid_at: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = db.begin().await?;
        store::insert_payout(&mut *tx, &payout).await?;
        let mut all_taken = true;
        for part in &parts {
            all_taken &= store::assign_payout(&mut tx, &part.id, &payout.id).await?;
        }
        if !all_taken {
            // Another instance's sweep took some: it pays them.
            continue;
        }
        landlord_jobs::enqueue(&mut *tx, transfer_job(&payout.id)).await?;
        tx.commit().await?;
        created += 1;
    }
    Ok(created)
}

/// Sends one payout's transfer.
pub struct TransferJob {
    pub context: crate::JobContext,
}

#[async_trait::async_trait]
impl JobHandler for TransferJob {
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()> {
        let db = &self.context.db;
        let Some(id) = payload["payout"].as_str().and_then(PayoutId::parse) else {
            anyhow::bail!("payload without a payout");
        };
        let Some(payout) = store::payout(db.pool(), &id).await? else {
            return Ok(());
        };
        if payout.status != PayoutStatus::Pending
            || !store::count_payout_attempt(db.pool(), &id, Timestamp::now()).await?
        {
            // Paid by an earlier attempt (or failed): never send it again.
            return Ok(());
        }
        if payout.attempts > 0 {
            // An earlier attempt's outcome may be unknown (a lost answer, a
            // worker that died, an operator's retry after Stripe forgot the
            // key): ask the provider before sending again.
            match self.context.client.find_transfer(&payout).await {
                Ok(Some(reference)) => return paid(db, &payout, &reference).await,
                Ok(None) => {}
                Err(error) if !attempt.last => {
                    let error = format!("cannot look the transfer up: {error}");
                    let mut tx = db.begin().await?;
                    store::note_payout_error(&mut tx, &id, &error, false, Timestamp::now()).await?;
                    tx.commit().await?;
                    anyhow::bail!(error)
                }
                Err(error) => {
                    let error = format!("cannot look the transfer up: {error}");
                    return failed(db, &payout, &error).await;
                }
            }
        }
        match self.context.client.transfer(&payout).await {
            Ok(reference) => paid(db, &payout, &reference).await,
            Err(ProviderError::Unavailable(error)) if !attempt.last => {
                let mut tx = db.begin().await?;
                store::note_payout_error(&mut tx, &id, &error, false, Timestamp::now()).await?;
                tx.commit().await?;
                // Retried with backoff, under the same idempotency key.
                anyhow::bail!(error)
            }
            Err(error) => failed(db, &payout, &error.to_string()).await,
        }
    }
}

async fn paid(db: &Db, payout: &PayoutRow, reference: &str) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    if !store::mark_payout_paid(&mut tx, &payout.id, reference, now).await? {
        return Ok(());
    }
    store::insert_ledger_entry(
        &mut tx,
        &LedgerRow {
            id: LedgerEntryId::generate(),
            vendor_id: payout.vendor_id.clone(),
            kind: LedgerKind::PaidOut,
            amount: payout.amount,
            currency: payout.currency.clone(),
            vendor_order_id: None,
            payout_id: Some(payout.id.clone()),
            created_at: now,
        },
    )
    .await?;
    landlord_events::record(
        &mut *tx,
        &payout.vendor_id,
        &MarketplacePayoutPaidPayload {
            organization_id: payout.vendor_id.clone(),
            payout_id: payout.id.clone(),
            amount: payout.amount,
            currency: payout.currency.clone(),
            provider: payout.provider.as_str().to_string(),
            transfer_reference: reference.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn failed(db: &Db, payout: &PayoutRow, error: &str) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    if store::note_payout_error(&mut tx, &payout.id, error, true, Timestamp::now()).await? {
        landlord_events::record(
            &mut *tx,
            &payout.vendor_id,
            &MarketplacePayoutFailedPayload {
                organization_id: payout.vendor_id.clone(),
                payout_id: payout.id.clone(),
                amount: payout.amount,
                currency: payout.currency.clone(),
                provider: payout.provider.as_str().to_string(),
                error: error.to_string(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::warn!(payout = %payout.id, error, "a marketplace payout failed");
    Ok(())
}

/// An operator retries a failed payout (same id, same idempotency key).
pub async fn retry(state: &MarketplaceState, id: &str) -> Result<PayoutRow, ApiError> {
    let not_found = || ApiError::not_found("payout");
    let id = PayoutId::parse(id).ok_or_else(not_found)?;
    let db = &state.db;
    let payout = store::payout(db.pool(), &id).await?.ok_or_else(not_found)?;
    let mut tx = db.begin().await?;
    if !store::reopen_payout(&mut *tx, &id, Timestamp::now()).await? {
        return Err(ApiError::Conflict(format!(
            "only a failed payout can be retried; this one is {}",
            payout.status.as_str()
        )));
    }
    landlord_jobs::enqueue(&mut *tx, transfer_job(&id)).await?;
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    store::payout(db.pool(), &id).await?.ok_or_else(not_found)
}

/// One currency of a vendor's ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Balance {
    pub currency: String,
    /// Earnings of paid vendor orders.
    pub earned: i64,
    /// Earnings of vendor orders cancelled after payment.
    pub reversed: i64,
    pub paid_out: i64,
    /// `earned − reversed − paid_out`.
    pub balance: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: LedgerEntryId,
    /// `earned`, `reversed` or `paid_out`.
    pub kind: LedgerKind,
    pub amount: i64,
    pub currency: String,
    pub vendor_order_id: Option<crate::ids::VendorOrderId>,
    pub payout_id: Option<PayoutId>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerView {
    pub balances: Vec<Balance>,
    /// The latest 100 entries, newest first.
    pub entries: Vec<LedgerEntryView>,
}

pub async fn ledger(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
) -> Result<LedgerView, ApiError> {
    let db = &state.db;
    let balances = store::ledger_totals(db.pool(), vendor_id)
        .await?
        .into_iter()
        .map(|(currency, earned, reversed, paid_out)| Balance {
            currency,
            earned,
            reversed,
            paid_out,
            balance: earned - reversed - paid_out,
        })
        .collect();
    let entries = store::ledger_entries(db.pool(), vendor_id, 100)
        .await?
        .into_iter()
        .map(|row| LedgerEntryView {
            id: row.id,
            kind: row.kind,
            amount: row.amount,
            currency: row.currency,
            vendor_order_id: row.vendor_order_id,
            payout_id: row.payout_id,
            created_at: row.created_at,
        })
        .collect();
    Ok(LedgerView { balances, entries })
}
