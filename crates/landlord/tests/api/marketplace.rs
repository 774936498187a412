//! Marketplace: checkout that never oversells, split
//! orders with exact fees, payment confirmed by the provider's webhook,
//! expiry, idempotent checkout, fulfilment with refunds, payouts paid
//! once, and stores that cannot reach each other's data. Over HTTP, on
//! SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::app::json;
use crate::support::errors::assert_error;
use crate::support::eventually::eventually;
use crate::support::marketplace::{part_of, Market};
use crate::support::Backend;

backend_tests!(
    fifty_concurrent_checkouts_reserve_exactly_the_stock,
    two_lines_of_one_product_are_checked_together,
    a_multi_vendor_order_splits_with_exact_fees,
    the_verified_webhook_confirms_payment_and_sells_the_stock,
    an_unpaid_order_expires_and_its_stock_returns,
    a_replayed_checkout_creates_one_order,
    a_store_cancelling_its_part_refunds_and_restocks,
    payouts_are_paid_once_under_retries,
    a_refused_payout_fails_visibly_and_the_operator_retries_it,
    stores_and_buyers_cannot_reach_each_others_data,
    a_product_without_a_location_is_found_where_its_store_is,
    each_store_sees_where_to_ship_its_part,
    eighty_concurrent_additions_leave_exactly_fifty_lines,
);

async fn fifty_concurrent_checkouts_reserve_exactly_the_stock(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("rush", None).await;
    let product = market
        .product(&store, "Limited Lamp", 2_500, 10, json!({}))
        .await;
    let mut buyers = Vec::new();
    for n in 0..50 {
        let buyer = market.buyer(&format!("rush-buyer-{n}@example.com")).await;
        let added = market.add(&buyer, &product, 1).await;
        assert_eq!(added.status(), 201, "{}", json(added).await);
        buyers.push(buyer);
    }
    let attempts = buyers.iter().enumerate().map(|(n, buyer)| {
        let market = &market;
        async move { market.checkout(buyer, &format!("rush-{n}"), "stripe").await }
    });
    let answers = futures::future::join_all(attempts).await;
    let mut placed = 0;
    let mut refused = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => placed += 1,
            409 => {
                let body = json(answer).await;
                assert_eq!(body["error"]["code"], "CONFLICT");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("not enough stock"), "{message}");
                assert!(message.contains("Limited Lamp"), "{message}");
                refused += 1;
            }
            other => panic!("checkout answered {other}: {}", json(answer).await),
        }
    }
    assert_eq!((placed, refused), (10, 40));
    let (stock, reserved, live) = market.stock(&product).await;
    assert_eq!((stock, reserved, live), (10, 10, 10));
    let orders = market
        .app
        .count("SELECT COUNT(*) FROM marketplace_orders", &[])
        .await;
    assert_eq!(orders, 10, "a refused checkout leaves no order behind");
    // The product shows nothing left.
    let listed = json(
        market
            .app
            .get(&format!("/api/v1/marketplace/products/{product}"))
            .await,
    )
    .await;
    assert_eq!(listed["data"]["available"], 0);
}

async fn eighty_concurrent_additions_leave_exactly_fifty_lines(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("lines", None).await;
    let product = market
        .product(&store, "Paper Clip", 10, 1_000, json!({}))
        .await;
    let buyer = market.buyer("lines-buyer@example.com").await;
    let additions = (0..80).map(|_| market.add(&buyer, &product, 1));
    let answers = futures::future::join_all(additions).await;
    let mut added = 0;
    let mut refused = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => added += 1,
            409 => {
                let body = json(answer).await;
                assert_eq!(body["error"]["code"], "CONFLICT");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("at most 50 lines"), "{message}");
                refused += 1;
            }
            other => panic!("adding answered {other}: {}", json(answer).await),
        }
    }
    assert_eq!((added, refused), (50, 30));
    let cart = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"].as_array().unwrap().len(), 50);
}

async fn two_lines_of_one_product_are_checked_together(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("twice", None).await;
    let product = market
        .product(&store, "Copper Kettle", 4_000, 3, json!({}))
        .await;
    let buyer = market.buyer("twice-buyer@example.com").await;
    assert_eq!(market.add(&buyer, &product, 2).await.status(), 201);
    assert_eq!(market.add(&buyer, &product, 1).await.status(), 201);
    // A third line would make 4 of 3: refused when adding.
    let refused = assert_error(market.add(&buyer, &product, 1).await, 409, "CONFLICT").await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Copper Kettle"));
    let cart = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"].as_array().unwrap().len(), 2);
    assert_eq!(cart["data"]["total"], 12_000);

    // Someone else takes one: the two lines (3 together) no longer fit.
    let other = market.buyer("twice-other@example.com").await;
    assert_eq!(market.add(&other, &product, 1).await.status(), 201);
    market.checked_out(&other, "twice-other").await;
    let short = assert_error(
        market.checkout(&buyer, "twice-1", "stripe").await,
        409,
        "CONFLICT",
    )
    .await;
    let message = short["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("requested 3") && message.contains("available 2"),
        "{message}"
    );
    assert_eq!(market.stock(&product).await, (3, 1, 1));
    // The refused checkout kept the cart.
    let cart = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"].as_array().unwrap().len(), 2);
    // With one line fewer, it fits: 2 reserved for this buyer.
    let first = cart["data"]["lines"][1]["id"].as_str().unwrap().to_string();
    let removed = market
        .app
        .delete_as(&format!("/api/v1/marketplace/cart/lines/{first}"), &buyer)
        .await;
    assert_eq!(removed.status(), 200);
    let order = market.checked_out(&buyer, "twice-2").await;
    assert_eq!(order["items"].as_array().unwrap().len(), 1);
    assert_eq!(market.stock(&product).await, (3, 3, 3));
}

async fn a_multi_vendor_order_splits_with_exact_fees(backend: Backend) {
    let market = Market::start(backend).await;
    let north = market.store("north", None).await;
    let south = market.store("south", None).await;
    let mug = market
        .product(&north, "Blue Mug", 1_005, 5, json!({}))
        .await;
    let bowl = market
        .product(&north, "Wide Bowl", 2_000, 5, json!({}))
        .await;
    let spoon = market.product(&south, "Tea Spoon", 333, 9, json!({})).await;
    let buyer = market.buyer("split-buyer@example.com").await;
    for (product, quantity) in [(&mug, 1), (&bowl, 2), (&spoon, 3)] {
        assert_eq!(market.add(&buyer, product, quantity).await.status(), 201);
    }
    let order = market.checked_out(&buyer, "split-1").await;
    // North: 1,005 + 2 × 2,000 = 5,005; South: 3 × 333 = 999.
    assert_eq!(order["total"], 6_004);
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["items"].as_array().unwrap().len(), 3);
    let parts = order["vendor_orders"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    let subtotals: i64 = parts.iter().map(|p| p["subtotal"].as_i64().unwrap()).sum();
    assert_eq!(subtotals, 6_004, "Σ vendor subtotals = order total");
    assert!(order["payment"]["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("pi_test_"));

    // Each store sees its money: 10 % rounded half up to the cent.
    market.pay(&order).await;
    market
        .wait_for_order(&buyer, order["id"].as_str().unwrap(), "confirmed")
        .await;
    let expect = [(&north, 5_005, 501, 4_504), (&south, 999, 100, 899)];
    for (store, subtotal, fee, earnings) in expect {
        let part = part_of(&order, store);
        let seen = json(
            market
                .app
                .get_as(
                    &format!("/api/v1/marketplace/vendor/orders/{part}"),
                    &store.owner,
                )
                .await,
        )
        .await;
        let seen = &seen["data"];
        assert_eq!(seen["subtotal"], subtotal, "{seen}");
        assert_eq!(seen["fee_bps"], 1_000);
        assert_eq!(seen["fee"], fee, "{seen}");
        assert_eq!(seen["earnings"], earnings, "{seen}");
        assert_eq!(seen["status"], "confirmed");
        let ledger = json(
            market
                .app
                .get_as("/api/v1/marketplace/vendor/ledger", &store.owner)
                .await,
        )
        .await;
        assert_eq!(
            ledger["data"]["balances"],
            json!([{"currency": "USD", "earned": earnings, "reversed": 0, "paid_out": 0, "balance": earnings}])
        );
    }
    // The price is the one at checkout, whatever happens to the product later.
    let changed = market
        .app
        .client
        .patch(
            market
                .app
                .url(&format!("/api/v1/marketplace/vendor/products/{mug}")),
        )
        .bearer_auth(&north.owner)
        .json(&json!({"price": 9_999}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let again = market.order(&buyer, order["id"].as_str().unwrap()).await;
    let mug_item = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["product_id"] == mug.as_str())
        .cloned()
        .unwrap();
    assert_eq!(mug_item["unit_price"], 1_005);
    // The operator's figures: gross volume and fees.
    let figures = json(
        market
            .app
            .get_as("/api/v1/admin/marketplace/figures", &market.operator)
            .await,
    )
    .await;
    assert_eq!(
        figures["data"]["money"],
        json!([{"currency": "USD", "gross_volume": 6_004, "fees": 601, "refunds": 0}])
    );
}

async fn the_verified_webhook_confirms_payment_and_sells_the_stock(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("paid", None).await;
    let product = market
        .product(&store, "Oak Stool", 7_000, 10, json!({}))
        .await;
    let buyer = market.buyer("paid-buyer@example.com").await;
    market.add(&buyer, &product, 2).await;
    let order = market.checked_out(&buyer, "paid-1").await;
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(market.stock(&product).await, (10, 2, 2));
    // The cart emptied once the payment started.
    let cart = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"], json!([]));

    // A PaymentIntent for the total, with the order in its metadata.
    let intent_id = order["payment"]["reference"].as_str().unwrap();
    let intent = market
        .stand_in
        .intent(intent_id)
        .expect("the PaymentIntent");
    assert_eq!(intent["amount"], 14_000);
    assert_eq!(intent["metadata"]["marketplace_order_id"], id.as_str());

    // Unsigned: refused, nothing changes.
    let (body, _) = market.stand_in.settle_intent(intent_id, true);
    let unsigned = market.post_stripe(body.clone(), "t=1,v1=00".into()).await;
    assert_eq!(unsigned.status(), 400);
    // A signed event for another amount leaves the order unpaid.
    let (wrong, signature) = crate::support::providers::ProviderStandIn::signed_stripe_event(
        "evt_wrong_amount",
        "payment_intent.succeeded",
        json!({"id": intent_id, "object": "payment_intent", "amount": 100, "currency": "usd",
               "status": "succeeded", "metadata": {"marketplace_order_id": id}}),
    );
    assert_eq!(market.post_stripe(wrong, signature).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(market.order(&buyer, &id).await["status"], "pending_payment");
    assert_eq!(market.stock(&product).await, (10, 2, 2));

    // The right one: confirmed, stock sold, mail to the buyer and the store.
    let paid = market.pay(&order).await;
    assert_eq!(paid.status(), 200);
    let confirmed = market.wait_for_order(&buyer, &id, "confirmed").await;
    assert!(confirmed["paid_at"].is_string());
    assert!(confirmed["payment"]["client_secret"].is_null());
    assert_eq!(confirmed["vendor_orders"][0]["status"], "confirmed");
    assert_eq!(market.stock(&product).await, (8, 0, 0));
    market
        .smtp
        .wait_for_subject("paid-buyer@example.com", "is confirmed")
        .await;
    let store_mail = market
        .smtp
        .wait_for_subject("paid-owner@example.com", "New paid order")
        .await;
    assert!(
        store_mail.data.contains("126.00 USD"),
        "{}",
        store_mail.data
    );
    // The same event again (a provider retry): sold once.
    let (again, signature) = market.stand_in.settle_intent(intent_id, true);
    market.post_stripe(again, signature).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(market.stock(&product).await, (8, 0, 0));
    let ledger = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/ledger", &store.owner)
            .await,
    )
    .await;
    assert_eq!(ledger["data"]["balances"][0]["earned"], 12_600);
    // A paid order cannot be cancelled by its buyer.
    let cancel = market
        .app
        .post_as(
            &format!("/api/v1/marketplace/orders/{id}/cancel"),
            &buyer,
            &json!({}),
        )
        .await;
    assert_error(cancel, 409, "CONFLICT").await;
}

async fn an_unpaid_order_expires_and_its_stock_returns(backend: Backend) {
    let market = Market::start_with(backend, |c| c.marketplace.reservation_ttl_secs = 1).await;
    let store = market.store("late", None).await;
    let product = market
        .product(&store, "Glass Vase", 3_000, 4, json!({}))
        .await;
    let buyer = market.buyer("late-buyer@example.com").await;
    market.add(&buyer, &product, 3).await;
    let order = market.checked_out(&buyer, "late-1").await;
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(market.stock(&product).await, (4, 3, 3));
    let expired = market.wait_for_order(&buyer, &id, "expired").await;
    assert_eq!(expired["vendor_orders"][0]["status"], "cancelled");
    assert_eq!(market.stock(&product).await, (4, 0, 0), "the stock returns");
    // Paid after all: nothing is sold; the money goes back in full.
    market.pay(&order).await;
    let refund = eventually(
        "the late payment's refund",
        Duration::from_secs(10),
        async || {
            market
                .stand_in
                .state
                .lock()
                .unwrap()
                .refunds
                .first()
                .cloned()
        },
    )
    .await;
    assert_eq!(refund["amount"], "9000");
    assert_eq!(
        refund["payment_intent"],
        order["payment"]["reference"].as_str().unwrap()
    );
    assert_eq!(market.stock(&product).await, (4, 0, 0));
    assert_eq!(market.order(&buyer, &id).await["status"], "expired");

    // A buyer may cancel an unpaid order: the stock returns at once.
    market.add(&buyer, &product, 2).await;
    let second = market.checked_out(&buyer, "late-2").await;
    let second_id = second["id"].as_str().unwrap();
    let cancelled = market
        .app
        .post_as(
            &format!("/api/v1/marketplace/orders/{second_id}/cancel"),
            &buyer,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(json(cancelled).await["data"]["status"], "cancelled");
    assert_eq!(market.stock(&product).await, (4, 0, 0));
}

async fn a_replayed_checkout_creates_one_order(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("replay", None).await;
    let product = market
        .product(&store, "Linen Towel", 1_500, 10, json!({}))
        .await;
    let buyer = market.buyer("replay-buyer@example.com").await;
    market.add(&buyer, &product, 2).await;
    let first = market.checked_out(&buyer, "replay-key").await;
    // The answer was lost; the client sends the same request again.
    let replay = market.checkout(&buyer, "replay-key", "stripe").await;
    assert_eq!(replay.status(), 201);
    let replay = json(replay).await["data"].clone();
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(
        market
            .app
            .count("SELECT COUNT(*) FROM marketplace_orders", &[])
            .await,
        1
    );
    assert_eq!(market.stock(&product).await, (10, 2, 2));
    assert_eq!(
        market.stand_in.state.lock().unwrap().payment_intents.len(),
        1
    );
    // The same key with another body: refused.
    let other = market
        .app
        .client
        .post(market.app.url("/api/v1/marketplace/checkout"))
        .bearer_auth(&buyer)
        .header("idempotency-key", "replay-key")
        .json(&json!({"provider": "paystack"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);
    // Without a key: refused before anything happens.
    let keyless = market
        .app
        .post_as(
            "/api/v1/marketplace/checkout",
            &buyer,
            &json!({"provider": "stripe"}),
        )
        .await;
    let body = assert_error(keyless, 400, "VALIDATION_ERROR").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
    // An empty cart: 422 naming it.
    let empty = market.checkout(&buyer, "replay-empty", "stripe").await;
    crate::support::errors::assert_invalid_field(empty, "cart").await;
}

async fn a_store_cancelling_its_part_refunds_and_restocks(backend: Backend) {
    let market = Market::start(backend).await;
    let east = market.store("east", None).await;
    let west = market.store("west", None).await;
    let rug = market
        .product(&east, "Wool Rug", 12_000, 2, json!({}))
        .await;
    let lamp = market
        .product(&west, "Desk Lamp", 4_500, 5, json!({}))
        .await;
    let buyer = market.buyer("cancel-buyer@example.com").await;
    market.add(&buyer, &rug, 1).await;
    market.add(&buyer, &lamp, 2).await;
    let order = market.checked_out(&buyer, "cancel-1").await;
    let id = order["id"].as_str().unwrap().to_string();
    market.pay(&order).await;
    market.wait_for_order(&buyer, &id, "confirmed").await;
    assert_eq!(market.stock(&rug).await, (1, 0, 0));

    // Shipping needs a tracking reference; delivered cannot come first.
    let east_part = part_of(&order, &east);
    let no_tracking = market
        .move_part(&east, &east_part, json!({"status": "shipped"}))
        .await;
    crate::support::errors::assert_invalid_field(no_tracking, "tracking_reference").await;
    let skipped = market
        .move_part(&east, &east_part, json!({"status": "delivered"}))
        .await;
    assert_error(skipped, 409, "CONFLICT").await;

    // East cancels its part: the rug is back in stock, the buyer refunded 120.00.
    let cancelled = market
        .move_part(
            &east,
            &east_part,
            json!({"status": "cancelled", "reason": "damaged in the warehouse"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(market.stock(&rug).await, (2, 0, 0));
    let refund = eventually("the refund", Duration::from_secs(10), async || {
        market
            .stand_in
            .state
            .lock()
            .unwrap()
            .refunds
            .first()
            .cloned()
    })
    .await;
    assert_eq!(refund["amount"], "12000");
    let ledger = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/ledger", &east.owner)
            .await,
    )
    .await;
    assert_eq!(ledger["data"]["balances"][0]["balance"], 0);
    assert_eq!(ledger["data"]["balances"][0]["reversed"], 10_800);
    // West delivers its part: the order is delivered.
    market.deliver(&west, &part_of(&order, &west)).await;
    let done = market.wait_for_order(&buyer, &id, "delivered").await;
    let statuses: Vec<&str> = done["vendor_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"cancelled") && statuses.contains(&"delivered"),
        "{statuses:?}"
    );
    // A delivered part cannot be cancelled.
    let late = market
        .move_part(
            &west,
            &part_of(&order, &west),
            json!({"status": "cancelled"}),
        )
        .await;
    assert_error(late, 409, "CONFLICT").await;
}

/// A store with one delivered, paid order of `price`; returns (store, earnings).
async fn delivered_sale(
    market: &Market,
    slug: &str,
    price: i64,
) -> (crate::support::marketplace::Store, i64) {
    let store = market.store(slug, None).await;
    let product = market
        .product(&store, "Clay Pot", price, 5, json!({}))
        .await;
    let buyer = market.buyer(&format!("{slug}-buyer@example.com")).await;
    market.add(&buyer, &product, 1).await;
    let order = market.checked_out(&buyer, &format!("{slug}-1")).await;
    market.pay(&order).await;
    let id = order["id"].as_str().unwrap();
    market.wait_for_order(&buyer, id, "confirmed").await;
    market.deliver(&store, &part_of(&order, &store)).await;
    let earnings = price - (price * 1_000 + 5_000) / 10_000;
    (store, earnings)
}

async fn payouts(market: &Market, store: &crate::support::marketplace::Store) -> Vec<Value> {
    let answer = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/payouts", &store.owner)
            .await,
    )
    .await;
    answer["data"].as_array().cloned().unwrap_or_default()
}

async fn payouts_are_paid_once_under_retries(backend: Backend) {
    let market = Market::start_with(backend, |c| c.marketplace.payout_hold_secs = 0).await;
    // The first call creates the transfer but its answer is lost; the
    // retry looks the transfer up before sending anything again.
    {
        let mut state = market.stand_in.state.lock().unwrap();
        state.transfers_lose_answer = 1;
    }
    let (store, earnings) = delivered_sale(&market, "potter", 2_345).await;
    let paid = eventually(
        "the payout to be paid",
        Duration::from_secs(20),
        async || {
            payouts(&market, &store)
                .await
                .into_iter()
                .find(|p| p["status"] == "paid")
        },
    )
    .await;
    assert_eq!(paid["amount"], earnings);
    assert_eq!(paid["currency"], "USD");
    assert_eq!(paid["account"], "acct_potter");
    assert!(paid["attempts"].as_i64().unwrap() >= 2, "{paid}");
    // Read in a block: the lock is never held across an await.
    {
        let state = market.stand_in.state.lock().unwrap();
        assert_eq!(
            state.transfers.len(),
            1,
            "one transfer, whatever the retries"
        );
        // The retry asked Stripe for the group's transfers and found it.
        assert_eq!(state.transfer_calls, 1);
        let transfer = &state.transfers[0];
        assert_eq!(transfer["amount"], earnings.to_string());
        assert_eq!(transfer["destination"], "acct_potter");
        assert_eq!(
            transfer["idempotency_key"],
            format!("payout_{}", paid["id"].as_str().unwrap())
        );
        assert_eq!(paid["transfer_reference"], transfer["id"].as_str());
    }
    // The ledger: earned, paid out, nothing left; a second sweep pays nothing more.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ledger = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/ledger", &store.owner)
            .await,
    )
    .await;
    assert_eq!(
        ledger["data"]["balances"],
        json!([{"currency": "USD", "earned": earnings, "reversed": 0, "paid_out": earnings, "balance": 0}])
    );
    assert_eq!(payouts(&market, &store).await.len(), 1);
    let run = json(
        market
            .app
            .post_as(
                "/api/v1/admin/marketplace/payouts/run",
                &market.operator,
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(run["data"]["created"], 0);
    assert_eq!(market.stand_in.state.lock().unwrap().transfers.len(), 1);
}

async fn a_refused_payout_fails_visibly_and_the_operator_retries_it(backend: Backend) {
    let market = Market::start_with(backend, |c| c.marketplace.payout_hold_secs = 0).await;
    market.stand_in.state.lock().unwrap().transfers_decline = true;
    let (store, earnings) = delivered_sale(&market, "refused", 1_000).await;
    let failed = eventually("the payout to fail", Duration::from_secs(20), async || {
        payouts(&market, &store)
            .await
            .into_iter()
            .find(|p| p["status"] == "failed")
    })
    .await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("No such destination"),
        "{failed}"
    );
    // The operator sees it among the failed payouts…
    let listed = json(
        market
            .app
            .get_as(
                "/api/v1/admin/marketplace/payouts?status=failed",
                &market.operator,
            )
            .await,
    )
    .await;
    assert_eq!(listed["data"][0]["id"], failed["id"]);
    // …a store cannot retry it; the operator can, once the account is fixed.
    let id = failed["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/marketplace/payouts/{id}/retry");
    assert_error(
        market.app.post_as(&path, &store.owner, &json!({})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    market.stand_in.state.lock().unwrap().transfers_decline = false;
    assert_eq!(
        market
            .app
            .post_as(&path, &market.operator, &json!({}))
            .await
            .status(),
        200
    );
    let paid = eventually("the retried payout", Duration::from_secs(20), async || {
        payouts(&market, &store)
            .await
            .into_iter()
            .find(|p| p["status"] == "paid")
    })
    .await;
    assert_eq!(paid["id"], failed["id"]);
    assert_eq!(paid["amount"], earnings);
    // A paid payout is not retried.
    assert_error(
        market
            .app
            .post_as(&path, &market.operator, &json!({}))
            .await,
        409,
        "CONFLICT",
    )
    .await;
    assert_eq!(market.stand_in.state.lock().unwrap().transfers.len(), 1);
}

async fn stores_and_buyers_cannot_reach_each_others_data(backend: Backend) {
    let market = Market::start(backend).await;
    let mine = market.store("mine", None).await;
    let theirs = market.store("theirs", None).await;
    let product = market
        .product(&mine, "Silver Ring", 9_000, 3, json!({}))
        .await;
    let buyer = market.buyer("own-buyer@example.com").await;
    market.add(&buyer, &product, 1).await;
    let order = market.checked_out(&buyer, "own-1").await;
    market.pay(&order).await;
    let id = order["id"].as_str().unwrap();
    market.wait_for_order(&buyer, id, "confirmed").await;
    let part = part_of(&order, &mine);

    // The other store: its product and its vendor order are not found.
    let app = &market.app;
    let product_path = format!("/api/v1/marketplace/vendor/products/{product}");
    assert_error(
        app.get_as(&product_path, &theirs.owner).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let patch = app
        .client
        .patch(app.url(&product_path))
        .bearer_auth(&theirs.owner)
        .json(&json!({"stock": 0}))
        .send()
        .await
        .unwrap();
    assert_error(patch, 404, "NOT_FOUND").await;
    let part_path = format!("/api/v1/marketplace/vendor/orders/{part}");
    assert_error(
        app.get_as(&part_path, &theirs.owner).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let moved = market
        .move_part(&theirs, &part, json!({"status": "processing"}))
        .await;
    assert_error(moved, 404, "NOT_FOUND").await;
    let theirs_orders = json(
        app.get_as("/api/v1/marketplace/vendor/orders", &theirs.owner)
            .await,
    )
    .await;
    assert_eq!(theirs_orders["data"], json!([]));
    let theirs_products = json(
        app.get_as("/api/v1/marketplace/vendor/products", &theirs.owner)
            .await,
    )
    .await;
    assert_eq!(theirs_products["data"], json!([]));
    // Nothing changed.
    assert_eq!(market.stock(&product).await, (2, 0, 0));
    let still = json(app.get_as(&part_path, &mine.owner).await).await;
    assert_eq!(still["data"]["status"], "confirmed");

    // Another buyer: the order, its cancellation and its review are not found.
    let stranger = market.buyer("stranger@example.com").await;
    let order_path = format!("/api/v1/marketplace/orders/{id}");
    assert_error(app.get_as(&order_path, &stranger).await, 404, "NOT_FOUND").await;
    let cancel = app
        .post_as(&format!("{order_path}/cancel"), &stranger, &json!({}))
        .await;
    assert_error(cancel, 404, "NOT_FOUND").await;
    let item = order["items"][0]["id"].as_str().unwrap();
    let review = app
        .post_as(
            &format!("{order_path}/items/{item}/review"),
            &stranger,
            &json!({"rating": 1}),
        )
        .await;
    assert_error(review, 404, "NOT_FOUND").await;
    let listed = json(app.get_as("/api/v1/marketplace/orders", &stranger).await).await;
    assert_eq!(listed["data"], json!([]));
    // A cart line of someone else's cart.
    market.add(&buyer, &product, 1).await;
    let cart = json(app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    let line = cart["data"]["lines"][0]["id"].as_str().unwrap();
    let removed = app
        .delete_as(&format!("/api/v1/marketplace/cart/lines/{line}"), &stranger)
        .await;
    assert_error(removed, 404, "NOT_FOUND").await;
    // A member of a store may not see its earnings; the operator routes are the operator's.
    assert_error(
        app.get_as("/api/v1/admin/marketplace/vendors", &mine.owner)
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    // A buyer's own organization does not sell: it has no store.
    assert_error(
        app.get_as("/api/v1/marketplace/vendor", &buyer).await,
        404,
        "NOT_FOUND",
    )
    .await;
}

async fn a_product_without_a_location_is_found_where_its_store_is(backend: Backend) {
    let market = Market::start(backend).await;
    let lagos = market.store("lagos-market", Some((6.5244, 3.3792))).await;
    let product = market
        .product(&lagos, "Ankara Fabric", 2_000, 4, json!({}))
        .await;
    let own = json(
        market
            .app
            .get_as(
                &format!("/api/v1/marketplace/vendor/products/{product}"),
                &lagos.owner,
            )
            .await,
    )
    .await;
    assert_eq!(own["data"]["location"]["latitude"], 6.5244);
    assert_eq!(own["data"]["location"]["longitude"], 3.3792);
    let near = json(
        market
            .app
            .get("/api/v1/marketplace/products?latitude=6.53&longitude=3.38&radius_km=5")
            .await,
    )
    .await;
    let found = near["data"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{near}");
    assert_eq!(found[0]["id"], product.as_str());
    assert!(found[0]["distance_km"].as_f64().unwrap() < 1.0);
    // Abuja is 500 km away: not within 100 km.
    let far = json(
        market
            .app
            .get("/api/v1/marketplace/products?latitude=9.0765&longitude=7.3986&radius_km=100")
            .await,
    )
    .await;
    assert_eq!(far["data"], json!([]));
}

async fn each_store_sees_where_to_ship_its_part(backend: Backend) {
    let market = Market::start(backend).await;
    let first = market.store("ship-one", None).await;
    let second = market.store("ship-two", None).await;
    let cup = market.product(&first, "Tin Cup", 800, 5, json!({})).await;
    let plate = market
        .product(&second, "Tin Plate", 900, 5, json!({}))
        .await;
    let buyer = market.buyer("ship-buyer@example.com").await;
    market.add(&buyer, &cup, 1).await;
    market.add(&buyer, &plate, 1).await;
    let checkout = |body: Value, key: &'static str| {
        let market = &market;
        let buyer = &buyer;
        async move {
            market
                .app
                .client
                .post(market.app.url("/api/v1/marketplace/checkout"))
                .bearer_auth(buyer)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let address = json!({"name": "Ada Obi", "line1": "12 Marina Road", "city": "Lagos",
                         "postal_code": "101001", "country": "NG"});
    // A bad country code: refused, naming it; nothing reserved.
    let mut bad = address.clone();
    bad["country"] = json!("ng");
    let refused = checkout(json!({"provider": "stripe", "shipping": bad}), "ship-bad").await;
    crate::support::errors::assert_invalid_field(refused, "shipping.country").await;
    assert_eq!(market.stock(&cup).await, (5, 0, 0));
    let placed = checkout(json!({"provider": "stripe", "shipping": address}), "ship-1").await;
    assert_eq!(placed.status(), 201);
    let order = json(placed).await["data"].clone();
    assert_eq!(order["shipping"]["line1"], "12 Marina Road");
    assert_eq!(order["shipping"]["line2"], Value::Null);
    for store in [&first, &second] {
        let part = part_of(&order, store);
        let seen = json(
            market
                .app
                .get_as(
                    &format!("/api/v1/marketplace/vendor/orders/{part}"),
                    &store.owner,
                )
                .await,
        )
        .await;
        let mut expected = address.clone();
        expected["line2"] = Value::Null;
        assert_eq!(seen["data"]["shipping"], expected, "{seen}");
    }
}
