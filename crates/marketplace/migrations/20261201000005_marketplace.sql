-- Module: Marketplace (DESIGN.md §17, seed 004): vendors are
-- organizations, buyers are users, platform administrators run it.
-- Money is integer minor units; fees are basis points.

-- An organization that sells. `status`: pending until an operator
-- approves it; suspended hides its products and stops new orders.
CREATE TABLE marketplace_vendors (
    organization_id  TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    store_name       TEXT NOT NULL,
    slug             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    latitude         DOUBLE PRECISION,
    longitude        DOUBLE PRECISION,
    location_label   TEXT,
    payout_provider  TEXT NOT NULL CHECK (payout_provider IN ('stripe', 'paystack')),
    payout_account   TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'suspended')),
    suspended_reason TEXT,
    rating_sum       BIGINT NOT NULL DEFAULT 0,
    rating_count     BIGINT NOT NULL DEFAULT 0,
    approved_at      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX marketplace_vendors_status ON marketplace_vendors (status, created_at);

-- A product. `reserved` is always the sum of its live reservations; the
-- checkout's conditional update keeps it within `stock`.
CREATE TABLE marketplace_products (
    id               TEXT PRIMARY KEY,
    vendor_id        TEXT NOT NULL REFERENCES marketplace_vendors(organization_id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    slug             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    price            BIGINT NOT NULL CHECK (price > 0),
    currency         TEXT NOT NULL,
    stock            BIGINT NOT NULL CHECK (stock >= 0),
    reserved         BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= stock),
    status           TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    categories       TEXT NOT NULL DEFAULT '[]',   -- JSON array of slugs
    images           TEXT NOT NULL DEFAULT '[]',   -- JSON array of URLs
    -- Title, description and categories: what full-text search reads
    -- (PostgreSQL indexes it with GIN; SQLite mirrors it in FTS5).
    search_text      TEXT NOT NULL DEFAULT '',
    latitude         DOUBLE PRECISION,
    longitude        DOUBLE PRECISION,
    location_label   TEXT,
    rating_sum       BIGINT NOT NULL DEFAULT 0,
    rating_count     BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (vendor_id, slug)
);
CREATE INDEX marketplace_products_listing ON marketplace_products (status, created_at, id);
CREATE INDEX marketplace_products_vendor ON marketplace_products (vendor_id, created_at, id);
CREATE INDEX marketplace_products_price ON marketplace_products (status, price);
-- Radius search narrows to a latitude band (then longitude) with this
-- index before measuring distances.
CREATE INDEX marketplace_products_location ON marketplace_products (status, latitude, longitude);

-- A product's categories, one row each, for the category filter's index.
CREATE TABLE marketplace_product_categories (
    product_id  TEXT NOT NULL REFERENCES marketplace_products(id) ON DELETE CASCADE,
    category    TEXT NOT NULL,
    PRIMARY KEY (product_id, category)
);
CREATE INDEX marketplace_product_categories_category ON marketplace_product_categories (category, product_id);

-- A buyer's cart: lines, several of one product allowed (checkout sums them).
CREATE TABLE marketplace_cart_lines (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    product_id  TEXT NOT NULL REFERENCES marketplace_products(id) ON DELETE CASCADE,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    created_at  BIGINT NOT NULL
);
CREATE INDEX marketplace_cart_lines_user ON marketplace_cart_lines (user_id, created_at);

-- An order: one checkout of one buyer, in one currency.
CREATE TABLE marketplace_orders (
    id                 TEXT PRIMARY KEY,
    buyer_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status             TEXT NOT NULL CHECK (status IN ('pending_payment', 'confirmed', 'shipped', 'delivered', 'cancelled', 'expired')),
    total              BIGINT NOT NULL,
    fee_total          BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    provider           TEXT NOT NULL CHECK (provider IN ('stripe', 'paystack')),
    payment_reference  TEXT,
    client_secret      TEXT,
    payment_url        TEXT,
    expires_at         BIGINT NOT NULL,
    paid_at            BIGINT,
    cancelled_at       BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX marketplace_orders_buyer ON marketplace_orders (buyer_id, created_at, id);
CREATE INDEX marketplace_orders_expiry ON marketplace_orders (status, expires_at);
CREATE UNIQUE INDEX marketplace_orders_payment ON marketplace_orders (provider, payment_reference);

-- One vendor's part of an order, with its money fixed at checkout.
CREATE TABLE marketplace_vendor_orders (
    id                  TEXT PRIMARY KEY,
    order_id            TEXT NOT NULL REFERENCES marketplace_orders(id) ON DELETE CASCADE,
    vendor_id           TEXT NOT NULL REFERENCES marketplace_vendors(organization_id) ON DELETE CASCADE,
    status              TEXT NOT NULL CHECK (status IN ('pending_payment', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled')),
    subtotal            BIGINT NOT NULL,
    fee_bps             BIGINT NOT NULL,
    fee                 BIGINT NOT NULL,
    earnings            BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    tracking_reference  TEXT,
    cancel_reason       TEXT,
    refund_reference    TEXT,
    payout_id           TEXT,
    delivered_at        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (order_id, vendor_id)
);
CREATE INDEX marketplace_vendor_orders_vendor ON marketplace_vendor_orders (vendor_id, created_at, id);
CREATE INDEX marketplace_vendor_orders_payable ON marketplace_vendor_orders (status, payout_id, delivered_at);

-- One line of an order, its price captured at checkout.
CREATE TABLE marketplace_order_items (
    id               TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL REFERENCES marketplace_orders(id) ON DELETE CASCADE,
    vendor_order_id  TEXT NOT NULL REFERENCES marketplace_vendor_orders(id) ON DELETE CASCADE,
    product_id       TEXT NOT NULL REFERENCES marketplace_products(id),
    title            TEXT NOT NULL,
    unit_price       BIGINT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    line_total       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX marketplace_order_items_order ON marketplace_order_items (order_id);
CREATE INDEX marketplace_order_items_vendor_order ON marketplace_order_items (vendor_order_id);

-- Stock held for an order: live until paid (sold) or released (expiry,
-- cancellation, failed payment). One per product and order.
CREATE TABLE marketplace_reservations (
    id               TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL REFERENCES marketplace_orders(id) ON DELETE CASCADE,
    vendor_order_id  TEXT NOT NULL REFERENCES marketplace_vendor_orders(id) ON DELETE CASCADE,
    product_id       TEXT NOT NULL REFERENCES marketplace_products(id),
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    status           TEXT NOT NULL CHECK (status IN ('live', 'sold', 'released', 'returned')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (order_id, product_id)
);
CREATE INDEX marketplace_reservations_product ON marketplace_reservations (product_id, status);

-- A vendor's money: earned when an order is paid, reversed when its part
-- is cancelled, paid out by a payout. Balance = earned − reversed − paid out.
CREATE TABLE marketplace_ledger (
    id               TEXT PRIMARY KEY,
    vendor_id        TEXT NOT NULL REFERENCES marketplace_vendors(organization_id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('earned', 'reversed', 'paid_out')),
    amount           BIGINT NOT NULL CHECK (amount >= 0),
    currency         TEXT NOT NULL,
    vendor_order_id  TEXT REFERENCES marketplace_vendor_orders(id) ON DELETE CASCADE,
    payout_id        TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX marketplace_ledger_vendor ON marketplace_ledger (vendor_id, created_at, id);
-- Each vendor order is earned and reversed at most once; a payout paid out once.
CREATE UNIQUE INDEX marketplace_ledger_vendor_order_once ON marketplace_ledger (kind, vendor_order_id) WHERE vendor_order_id IS NOT NULL;
CREATE UNIQUE INDEX marketplace_ledger_payout_once ON marketplace_ledger (kind, payout_id) WHERE payout_id IS NOT NULL;

-- A transfer of a vendor's earnings (delivered vendor orders past the
-- hold), sent once under an idempotency key derived from its id.
CREATE TABLE marketplace_payouts (
    id                  TEXT PRIMARY KEY,
    vendor_id           TEXT NOT NULL REFERENCES marketplace_vendors(organization_id) ON DELETE CASCADE,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    currency            TEXT NOT NULL,
    provider            TEXT NOT NULL CHECK (provider IN ('stripe', 'paystack')),
    account             TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
    attempts            BIGINT NOT NULL DEFAULT 0,
    transfer_reference  TEXT,
    last_error          TEXT,
    paid_at             BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX marketplace_payouts_vendor ON marketplace_payouts (vendor_id, created_at, id);
CREATE INDEX marketplace_payouts_status ON marketplace_payouts (status, created_at);

-- A buyer's review of an order item: its product and its vendor. Once
-- per order item, after delivery.
CREATE TABLE marketplace_reviews (
    id              TEXT PRIMARY KEY,
    order_item_id   TEXT NOT NULL UNIQUE REFERENCES marketplace_order_items(id) ON DELETE CASCADE,
    product_id      TEXT NOT NULL REFERENCES marketplace_products(id) ON DELETE CASCADE,
    vendor_id       TEXT NOT NULL REFERENCES marketplace_vendors(organization_id) ON DELETE CASCADE,
    buyer_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rating          BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text            TEXT NOT NULL DEFAULT '',
    reply           TEXT,
    replied_at      BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX marketplace_reviews_product ON marketplace_reviews (product_id, created_at, id);
CREATE INDEX marketplace_reviews_vendor ON marketplace_reviews (vendor_id, created_at, id);
