//! One payload per event type: what a receiver needs, with typed ids.
//! Every payload names its organization. Amounts are in the currency's
//! minor unit (cents), periods are months written `YYYY-MM`.

use landlord_core::ids::{
    ApiKeyId, BillingCycleId, InboxChannelId, InboxContactId, InboxConversationId, InboxMessageId,
    InvitationId, MarketplaceOrderId, MessageId, OrderItemId, OrganizationId, PaymentId, PayoutId,
    ProductId, ReviewId, UserId, VendorOrderId, WebhookEndpointId,
};
use landlord_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::{Event, EventType};

macro_rules! event {
    ($payload:ident => $variant:ident) => {
        impl Event for $payload {
            const TYPE: EventType = EventType::$variant;
        }
    };
}

/// `organization.updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationUpdatedPayload {
    pub organization_id: OrganizationId,
    /// The organization's name after the change.
    pub name: String,
    /// Who changed it.
    pub updated_by: UserId,
}
event!(OrganizationUpdatedPayload => OrganizationUpdated);

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
event!(MemberAddedPayload => MemberAdded);

/// `member.removed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberRemovedPayload {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    /// Who removed them; `null` when they left on their own.
    pub removed_by: Option<UserId>,
}
event!(MemberRemovedPayload => MemberRemoved);

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
event!(MemberRoleChangedPayload => MemberRoleChanged);

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
event!(InvitationCreatedPayload => InvitationCreated);

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
event!(InvitationAcceptedPayload => InvitationAccepted);

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
event!(ApiKeyCreatedPayload => ApiKeyCreated);

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
event!(ApiKeyRevokedPayload => ApiKeyRevoked);

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
event!(UsageThresholdReachedPayload => UsageThresholdReached);

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
event!(InvoiceCreatedPayload => InvoiceCreated);

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
event!(InvoiceOverduePayload => InvoiceOverdue);

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
event!(InvoicePaidPayload => InvoicePaid);

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
event!(PaymentSucceededPayload => PaymentSucceeded);

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
event!(PaymentFailedPayload => PaymentFailed);

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
event!(MessageSentPayload => MessageSent);

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
event!(MessageFailedPayload => MessageFailed);

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
event!(WebhookTestPayload => WebhookTest);

/// `inbox.message.received`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxMessageReceivedPayload {
    pub organization_id: OrganizationId,
    pub channel_id: InboxChannelId,
    pub conversation_id: InboxConversationId,
    pub contact_id: InboxContactId,
    pub message_id: InboxMessageId,
    /// `text`, `template` or `media`.
    #[schema(example = "text")]
    pub kind: String,
    pub body: String,
    /// The contact's WhatsApp id.
    pub from: String,
}
event!(InboxMessageReceivedPayload => InboxMessageReceived);

/// `inbox.message.status_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxMessageStatusChangedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub message_id: InboxMessageId,
    /// `sent`, `delivered`, `read` or `failed`.
    #[schema(example = "delivered")]
    pub status: String,
    pub error: Option<String>,
}
event!(InboxMessageStatusChangedPayload => InboxMessageStatusChanged);

/// `inbox.conversation.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxConversationCreatedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub channel_id: InboxChannelId,
    pub contact_id: InboxContactId,
    /// The organization's display number.
    pub number: i64,
}
event!(InboxConversationCreatedPayload => InboxConversationCreated);

/// `inbox.conversation.assigned`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxConversationAssignedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    /// `null`: unassigned.
    pub assignee_id: Option<UserId>,
    pub team: Option<String>,
    pub assigned_by: UserId,
}
event!(InboxConversationAssignedPayload => InboxConversationAssigned);

/// `inbox.conversation.resolved`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxConversationResolvedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub resolved_by: Option<UserId>,
}
event!(InboxConversationResolvedPayload => InboxConversationResolved);

/// `marketplace.order.created`: sent to each store with a part in the order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceOrderCreatedPayload {
    /// The store (vendor organization).
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    /// This store's part: items' total, the platform fee, the store's earnings.
    pub subtotal: i64,
    pub fee: i64,
    pub earnings: i64,
    pub currency: String,
    /// Units across this store's items.
    pub units: i64,
}
event!(MarketplaceOrderCreatedPayload => MarketplaceOrderCreated);

/// `marketplace.order.paid`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceOrderPaidPayload {
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    pub subtotal: i64,
    pub currency: String,
    pub paid_at: Timestamp,
}
event!(MarketplaceOrderPaidPayload => MarketplaceOrderPaid);

/// `marketplace.order.cancelled`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceOrderCancelledPayload {
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    /// `expired`, `payment_failed`, `cancelled_by_buyer` or `cancelled_by_vendor`.
    pub reason: String,
}
event!(MarketplaceOrderCancelledPayload => MarketplaceOrderCancelled);

/// `marketplace.vendor_order.status_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceVendorOrderStatusChangedPayload {
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    pub from: String,
    pub to: String,
    pub tracking_reference: Option<String>,
}
event!(MarketplaceVendorOrderStatusChangedPayload => MarketplaceVendorOrderStatusChanged);

/// `marketplace.payout.paid`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplacePayoutPaidPayload {
    pub organization_id: OrganizationId,
    pub payout_id: PayoutId,
    pub amount: i64,
    pub currency: String,
    /// `stripe` or `paystack`.
    pub provider: String,
    /// The provider's transfer id (`tr_…`) or code (`TRF_…`).
    pub transfer_reference: String,
}
event!(MarketplacePayoutPaidPayload => MarketplacePayoutPaid);

/// `marketplace.payout.failed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplacePayoutFailedPayload {
    pub organization_id: OrganizationId,
    pub payout_id: PayoutId,
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    /// What the provider answered.
    pub error: String,
}
event!(MarketplacePayoutFailedPayload => MarketplacePayoutFailed);

/// `marketplace.review.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceReviewCreatedPayload {
    pub organization_id: OrganizationId,
    pub review_id: ReviewId,
    pub product_id: ProductId,
    pub order_item_id: OrderItemId,
    /// 1 to 5.
    pub rating: i64,
}
event!(MarketplaceReviewCreatedPayload => MarketplaceReviewCreated);
