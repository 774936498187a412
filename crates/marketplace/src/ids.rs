//! The marketplace's typed ids (see `landlord_core::ids`): one type per entity,
//! so that a swapped argument does not compile.

landlord_core::entity_id!(
    /// A marketplace product (of a vendor).
    ProductId
);

landlord_core::entity_id!(
    /// A line of a buyer's marketplace cart.
    CartLineId
);

landlord_core::entity_id!(
    /// A marketplace order (one checkout).
    MarketplaceOrderId
);

landlord_core::entity_id!(
    /// One vendor's part of a marketplace order.
    VendorOrderId
);

landlord_core::entity_id!(
    /// A line of a marketplace order.
    OrderItemId
);

landlord_core::entity_id!(
    /// Stock held for an order.
    ReservationId
);

landlord_core::entity_id!(
    /// An entry of a vendor's ledger.
    LedgerEntryId
);

landlord_core::entity_id!(
    /// A transfer of a vendor's earnings.
    PayoutId
);

landlord_core::entity_id!(
    /// A refund of a marketplace payment.
    RefundId
);

landlord_core::entity_id!(
    /// A buyer's review of an order item.
    ReviewId
);
