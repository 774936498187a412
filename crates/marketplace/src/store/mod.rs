//! The marketplace's tables (every `marketplace_*` table; SQL lives only
//! here). Reads of a vendor's data take the vendor's organization id, and
//! reads of a buyer's data the buyer's user id, so another tenant's ids
//! find nothing.

mod catalog;
mod orders;
mod payouts;
mod refunds;
mod reviews;
mod vendors;

pub use catalog::*;
pub use orders::*;
pub use payouts::*;
pub use refunds::*;
pub use reviews::*;
pub use vendors::*;

landlord_core::text_enum!(
    /// Where a vendor stands with the platform.
    pub enum VendorStatus {
        /// Applied; not yet approved (its products are not listed).
        Pending = "pending",
        Approved = "approved",
        /// Stopped by an operator: products hidden, no new orders.
        Suspended = "suspended",
        /// Turned down by an operator, with a reason; the store may fix
        /// it and apply again.
        Rejected = "rejected",
    }
);

landlord_core::text_enum!(
    /// Who moves a vendor's money, and so which account kind it gave.
    pub enum PayoutProvider {
        /// A Stripe Connect account (`acct_…`).
        Stripe = "stripe",
        /// A Paystack transfer recipient (`RCP_…`).
        Paystack = "paystack",
    }
);

landlord_core::text_enum!(
    pub enum ProductStatus {
        Draft = "draft",
        /// Listed and for sale (when its vendor is approved).
        Active = "active",
        Archived = "archived",
    }
);

landlord_core::text_enum!(
    /// An order, as its vendor orders make it (see `fulfilment`).
    pub enum OrderStatus {
        PendingPayment = "pending_payment",
        Confirmed = "confirmed",
        Shipped = "shipped",
        Delivered = "delivered",
        Cancelled = "cancelled",
        /// Not paid in time: its stock returned.
        Expired = "expired",
    }
);

landlord_core::text_enum!(
    /// One vendor's part: paid → processing → shipped → delivered, or cancelled.
    pub enum VendorOrderStatus {
        PendingPayment = "pending_payment",
        Confirmed = "confirmed",
        Processing = "processing",
        Shipped = "shipped",
        Delivered = "delivered",
        Cancelled = "cancelled",
    }
);

landlord_core::text_enum!(
    pub enum ReservationStatus {
        /// Holds stock (counted in the product's `reserved`).
        Live = "live",
        /// Paid: taken from stock.
        Sold = "sold",
        /// Expired or cancelled before payment: back to available.
        Released = "released",
        /// Sold, then cancelled by the vendor: back in stock.
        Returned = "returned",
    }
);

landlord_core::text_enum!(
    pub enum LedgerKind {
        Earned = "earned",
        Reversed = "reversed",
        PaidOut = "paid_out",
    }
);

landlord_core::text_enum!(
    /// Where a refund stands (see `refunds`).
    pub enum RefundStatus {
        /// Recorded; no attempt yet.
        Pending = "pending",
        /// An attempt was made (or runs): its outcome is unknown until the
        /// provider's answer or its list of refunds says.
        Sending = "sending",
        /// The provider made it: `refund_reference` holds its id.
        Refunded = "refunded",
        /// The provider refused the last attempt; retried, then left to
        /// an operator.
        Failed = "failed",
    }
);

landlord_core::text_enum!(
    pub enum PayoutStatus {
        Pending = "pending",
        Paid = "paid",
        /// Its transfer failed after its retries; an operator may retry.
        Failed = "failed",
    }
);
