//! The core's event types, each with its payload: what a receiver needs,
//! with typed ids (a module declares its own in its crate).
//! Every payload names its organization. Amounts are in the currency's
//! minor unit (cents), periods are months written `YYYY-MM`.

use landlord_core::ids::{
    ApiKeyId, BillingCycleId, InvitationId, MessageId, OrganizationId, PaymentId, UserId,
    WebhookEndpointId,
};
use landlord_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::EventType;

/// `organization.updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationUpdatedPayload {
    pub organization_id: OrganizationId,
    /// The organization's name after the change.
    pub name: String,
    /// Who changed it.
    pub updated_by: UserId,
}
crate::event_type!(
    pub const ORGANIZATION_UPDATED: OrganizationUpdatedPayload = (
        "organization.updated",
        1,
        "The organization's settings (its name) changed.",
    )
);

/// `member.added`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberAddedPayload {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub email: String,
    /// `owner`, `admin` or `member`.
    #[schema(example = "member")]
    pub role: String,
}
crate::event_type!(
    pub const MEMBER_ADDED: MemberAddedPayload = (
        "member.added",
        1,
        "A person joined the organization (accepted an invitation).",
    )
);

/// `member.removed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberRemovedPayload {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    /// Who removed them; `null` when they left on their own.
    pub removed_by: Option<UserId>,
}
crate::event_type!(
    pub const MEMBER_REMOVED: MemberRemovedPayload = (
        "member.removed",
        1,
        "A member was removed, or left the organization.",
    )
);

/// `member.role_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberRoleChangedPayload {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    #[schema(example = "member")]
    pub previous_role: String,
    #[schema(example = "admin")]
    pub role: String,
    pub changed_by: UserId,
}
crate::event_type!(
    pub const MEMBER_ROLE_CHANGED: MemberRoleChangedPayload = (
        "member.role_changed",
        1,
        "A member's role changed (including an ownership transfer).",
    )
);

/// `invitation.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationCreatedPayload {
    pub organization_id: OrganizationId,
    pub invitation_id: InvitationId,
    pub email: String,
    #[schema(example = "member")]
    pub role: String,
    pub invited_by: UserId,
    pub expires_at: Timestamp,
}
crate::event_type!(
    pub const INVITATION_CREATED: InvitationCreatedPayload = (
        "invitation.created",
        1,
        "Someone was invited to join the organization.",
    )
);

/// `invitation.accepted`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationAcceptedPayload {
    pub organization_id: OrganizationId,
    pub invitation_id: InvitationId,
    pub user_id: UserId,
    pub email: String,
    #[schema(example = "member")]
    pub role: String,
}
crate::event_type!(
    pub const INVITATION_ACCEPTED: InvitationAcceptedPayload = (
        "invitation.accepted",
        1,
        "An invitation was accepted.",
    )
);

/// `api_key.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyCreatedPayload {
    pub organization_id: OrganizationId,
    pub api_key_id: ApiKeyId,
    pub name: String,
    /// The key's visible prefix (never the secret).
    pub prefix: String,
    pub created_by: UserId,
}
crate::event_type!(
    pub const API_KEY_CREATED: ApiKeyCreatedPayload = (
        "api_key.created",
        1,
        "An API key was created.",
    )
);

/// `api_key.revoked`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyRevokedPayload {
    pub organization_id: OrganizationId,
    pub api_key_id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    /// Who revoked it (with their departure, the remover or the leaver);
    /// `null` when the server did.
    pub revoked_by: Option<UserId>,
}
crate::event_type!(
    pub const API_KEY_REVOKED: ApiKeyRevokedPayload = (
        "api_key.revoked",
        1,
        "An API key was revoked.",
    )
);

/// `usage.threshold_reached`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageThresholdReachedPayload {
    pub organization_id: OrganizationId,
    #[schema(example = "2026-10")]
    pub period: String,
    /// 80 or 100.
    #[schema(example = 80)]
    pub percent: i64,
    /// Requests counted in the period when the threshold was reached.
    pub used: i64,
    /// The plan's monthly quota.
    pub quota: i64,
}
crate::event_type!(
    pub const USAGE_THRESHOLD_REACHED: UsageThresholdReachedPayload = (
        "usage.threshold_reached",
        1,
        "The organization used 80 % or 100 % of its monthly quota (once each per period).",
    )
);

/// `invoice.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceCreatedPayload {
    pub organization_id: OrganizationId,
    pub invoice_id: BillingCycleId,
    #[schema(example = "2026-10")]
    pub period: String,
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
}
crate::event_type!(
    pub const INVOICE_CREATED: InvoiceCreatedPayload = (
        "invoice.created",
        1,
        "A month was closed: the organization's invoice for it exists.",
    )
);

/// `invoice.overdue`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceOverduePayload {
    pub organization_id: OrganizationId,
    pub invoice_id: BillingCycleId,
    #[schema(example = "2026-10")]
    pub period: String,
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
}
crate::event_type!(
    pub const INVOICE_OVERDUE: InvoiceOverduePayload = (
        "invoice.overdue",
        1,
        "An invoice was not paid by its due date.",
    )
);

/// `invoice.paid`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoicePaidPayload {
    pub organization_id: OrganizationId,
    pub invoice_id: BillingCycleId,
    #[schema(example = "2026-10")]
    pub period: String,
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
    pub paid_at: Timestamp,
}
crate::event_type!(
    pub const INVOICE_PAID: InvoicePaidPayload = (
        "invoice.paid",
        1,
        "An invoice was paid.",
    )
);

/// `payment.succeeded`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentSucceededPayload {
    pub organization_id: OrganizationId,
    pub payment_id: PaymentId,
    pub invoice_id: Option<BillingCycleId>,
    /// `stripe` or `paystack`.
    #[schema(example = "stripe")]
    pub provider: String,
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
}
crate::event_type!(
    pub const PAYMENT_SUCCEEDED: PaymentSucceededPayload = (
        "payment.succeeded",
        1,
        "A payment through a provider succeeded.",
    )
);

/// `payment.failed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentFailedPayload {
    pub organization_id: OrganizationId,
    pub payment_id: PaymentId,
    pub invoice_id: Option<BillingCycleId>,
    #[schema(example = "stripe")]
    pub provider: String,
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// The provider's reason, when it gave one.
    pub reason: Option<String>,
}
crate::event_type!(
    pub const PAYMENT_FAILED: PaymentFailedPayload = (
        "payment.failed",
        1,
        "A payment through a provider failed.",
    )
);

/// `message.sent`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageSentPayload {
    pub organization_id: OrganizationId,
    pub message_id: MessageId,
    /// `email` or `sms`.
    #[schema(example = "email")]
    pub channel: String,
    pub to: String,
}
crate::event_type!(
    pub const MESSAGE_SENT: MessageSentPayload = (
        "message.sent",
        1,
        "A message of the messaging API was taken by its provider (the SMTP server, \
         Twilio); never for a simulated one (development outbox).",
    )
);

/// `message.failed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageFailedPayload {
    pub organization_id: OrganizationId,
    pub message_id: MessageId,
    #[schema(example = "email")]
    pub channel: String,
    pub to: String,
    pub reason: Option<String>,
}
crate::event_type!(
    pub const MESSAGE_FAILED: MessageFailedPayload = (
        "message.failed",
        1,
        "A message of the messaging API was refused, failed its last attempt, or was \
         reported failed or undelivered by the SMS provider.",
    )
);

/// `webhook.test`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookTestPayload {
    pub organization_id: OrganizationId,
    /// The endpoint the test was sent to (the only one it goes to).
    pub endpoint_id: WebhookEndpointId,
    /// Who sent it.
    pub sent_by: UserId,
    #[schema(example = "This is a test message from Landlord.")]
    pub message: String,
}
crate::event_type!(
    pub const WEBHOOK_TEST: WebhookTestPayload = (
        "webhook.test",
        1,
        "A test message an owner or admin sent to one endpoint (console or \
         `POST /webhooks/endpoints/{id}/test`); delivered to that endpoint only.",
    )
);

/// The core's types, in the catalog's order (the first of the catalog).
pub const CORE: &[EventType] = &[
    ORGANIZATION_UPDATED,
    MEMBER_ADDED,
    MEMBER_REMOVED,
    MEMBER_ROLE_CHANGED,
    INVITATION_CREATED,
    INVITATION_ACCEPTED,
    API_KEY_CREATED,
    API_KEY_REVOKED,
    USAGE_THRESHOLD_REACHED,
    INVOICE_CREATED,
    INVOICE_OVERDUE,
    INVOICE_PAID,
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    MESSAGE_SENT,
    MESSAGE_FAILED,
    WEBHOOK_TEST,
];
