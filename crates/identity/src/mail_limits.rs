//! Mail cannot be used to spam: each kind of account mail (invitation,
//! email verification, password reset) reaches one address at most
//! `mails_per_recipient_per_day` times a day, and an organization sends at
//! most `invitations_per_organization_per_hour` invitations an hour.
//!
//! The limits use the application's rate limiter (GCRA: the budget may be
//! spent at once, then one more comes back every `period / limit`), in
//! memory or shared through Redis. A refusal is 429 `RATE_LIMITED` with
//! `Retry-After`.
//!
//! On the account-recovery routes, which answer the same whether or not an
//! account uses the address, the recipient limit is taken for the address
//! *before* looking the account up: an unknown address is limited exactly
//! like a known one, so a 429 says nothing about whether the account
//! exists.

use std::time::Duration;

use landlord_core::ApiError;

use crate::IdentityState;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A kind of account mail, each with its own budget per recipient (so
/// invitations cannot use up an address's password-reset mails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    EmailVerification,
    PasswordReset,
}

impl MailKind {
    fn key(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::EmailVerification => "email_verification",
            MailKind::PasswordReset => "password_reset",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitations",
            MailKind::EmailVerification => "verification mails",
            MailKind::PasswordReset => "password reset mails",
        }
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_micros().div_ceil(1_000_000).max(1) as u64
}

/// Takes one mail of `kind` from `recipient`'s daily budget (the address
/// is compared lowercased).
pub async fn per_recipient(
    state: &IdentityState,
    kind: MailKind,
    recipient: &str,
) -> Result<(), ApiError> {
    let limit = state.config.mails_per_recipient_per_day;
    let key = format!("mail:{}:to:{}", kind.key(), recipient.trim().to_lowercase());
    let decision = state.limiter.check_over(&key, limit, DAY).await;
    if decision.allowed {
        return Ok(());
    }
    Err(ApiError::RateLimited {
        message: format!(
            "at most {limit} {} a day to one address; try again later",
            kind.noun()
        ),
        retry_after_secs: ceil_secs(decision.retry_after),
    })
}

/// Takes one invitation from the organization's hourly budget.
pub async fn invitations_of(
    state: &IdentityState,
    organization_id: &landlord_core::ids::OrganizationId,
) -> Result<(), ApiError> {
    let limit = state.config.invitations_per_organization_per_hour;
    let key = format!("mail:invitation:org:{organization_id}");
    let decision = state.limiter.check_over(&key, limit, HOUR).await;
    if decision.allowed {
        return Ok(());
    }
    Err(ApiError::RateLimited {
        message: format!("this organization may send at most {limit} invitations an hour"),
        retry_after_secs: ceil_secs(decision.retry_after),
    })
}
