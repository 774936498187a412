//! A marketplace to test against: a server with the provider stand-in and
//! an SMTP server, an operator, stores that applied and were approved,
//! products, buyers — and the requests a buyer and a store make.

use std::time::Duration;

use serde_json::{json, Value};

use super::accounts::token_of;
use super::app::{json, smtp_to};
use super::eventually::eventually;
use super::providers::ProviderStandIn;
use super::smtp::SmtpServer;
use super::{Backend, TestApp};

pub struct Market {
    pub app: TestApp,
    pub smtp: SmtpServer,
    pub stand_in: ProviderStandIn,
    /// A platform administrator's access token.
    pub operator: String,
}

/// A store: its organization, its owner's token, its slug.
pub struct Store {
    pub org_id: String,
    pub owner: String,
    pub slug: String,
}

impl Market {
    pub async fn start(backend: Backend) -> Market {
        Self::start_with(backend, |_| {}).await
    }

    /// Sweeps every 100 ms; `adjust` may change the configuration further.
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut landlord::settings::Settings),
    ) -> Market {
        let smtp = SmtpServer::start().await;
        let stand_in = ProviderStandIn::start().await;
        let port = smtp.port;
        let app = TestApp::spawn_with(backend, |c| {
            smtp_to(c, port);
            stand_in.configure(c);
            c.marketplace.sweep_interval_ms = 100;
            adjust(c);
        })
        .await;
        stand_in.deliver_webhooks_to(&app.url(""));
        let registered = app.register("operator@example.com", "Operators").await;
        let operator = token_of(&registered, "access_token");
        let user_id = token_of(&registered["user"], "id");
        sqlx::query("UPDATE users SET platform_admin_at = $1 WHERE id = $2")
            .bind(1_i64)
            .bind(&user_id)
            .execute(app.db.pool())
            .await
            .expect("make the operator");
        Market {
            app,
            smtp,
            stand_in,
            operator,
        }
    }

    /// A store that applied (Stripe payouts) and that the operator approved.
    pub async fn store(&self, slug: &str, location: Option<(f64, f64)>) -> Store {
        let registered = self
            .app
            .register(&format!("{slug}-owner@example.com"), &format!("{slug} Ltd"))
            .await;
        let owner = token_of(&registered, "access_token");
        let org_id = token_of(&registered["organization"], "id");
        let mut body = json!({
            "store_name": format!("{slug} store"),
            "slug": slug,
            "description": format!("The {slug} store"),
            "payout": {"provider": "stripe", "account": format!("acct_{}", slug.replace('-', ""))},
        });
        if let Some((latitude, longitude)) = location {
            body["location"] = json!({"latitude": latitude, "longitude": longitude});
        }
        let applied = self
            .app
            .post_as("/api/v1/marketplace/vendor", &owner, &body)
            .await;
        assert_eq!(applied.status(), 201, "{}", json(applied).await);
        let approved = self
            .app
            .post_as(
                &format!("/api/v1/admin/marketplace/vendors/{org_id}/approve"),
                &self.operator,
                &json!({}),
            )
            .await;
        assert_eq!(approved.status(), 200, "{}", json(approved).await);
        Store {
            org_id,
            owner,
            slug: slug.to_string(),
        }
    }

    /// A store that applied without a payout account and that the
    /// operator approved.
    pub async fn store_without_payout(&self, slug: &str) -> Store {
        let registered = self
            .app
            .register(&format!("{slug}-owner@example.com"), &format!("{slug} Ltd"))
            .await;
        let owner = token_of(&registered, "access_token");
        let org_id = token_of(&registered["organization"], "id");
        let applied = self
            .app
            .post_as(
                "/api/v1/marketplace/vendor",
                &owner,
                &json!({"store_name": format!("{slug} store"), "slug": slug}),
            )
            .await;
        assert_eq!(applied.status(), 201, "{}", json(applied).await);
        let approved = self
            .app
            .post_as(
                &format!("/api/v1/admin/marketplace/vendors/{org_id}/approve"),
                &self.operator,
                &json!({}),
            )
            .await;
        assert_eq!(approved.status(), 200, "{}", json(approved).await);
        Store {
            org_id,
            owner,
            slug: slug.to_string(),
        }
    }

    /// An active product of `store`; `extra` adds or replaces fields.
    pub async fn product(
        &self,
        store: &Store,
        title: &str,
        price: i64,
        stock: i64,
        extra: Value,
    ) -> String {
        let slug: String = title
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let mut body = json!({
            "title": title, "slug": slug, "price": price, "currency": "USD",
            "stock": stock, "status": "active",
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        let created = self
            .app
            .post_as("/api/v1/marketplace/vendor/products", &store.owner, &body)
            .await;
        assert_eq!(created.status(), 201, "{}", json(created).await);
        token_of(&json(created).await["data"], "id")
    }

    /// A signed-in buyer.
    pub async fn buyer(&self, email: &str) -> String {
        token_of(
            &self.app.register(email, "Buyer's own").await,
            "access_token",
        )
    }

    pub async fn add(&self, buyer: &str, product_id: &str, quantity: i64) -> reqwest::Response {
        self.app
            .post_as(
                "/api/v1/marketplace/cart/lines",
                buyer,
                &json!({"product_id": product_id, "quantity": quantity}),
            )
            .await
    }

    pub async fn checkout(&self, buyer: &str, key: &str, provider: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/api/v1/marketplace/checkout"))
            .bearer_auth(buyer)
            .header("idempotency-key", key)
            .json(&json!({"provider": provider}))
            .send()
            .await
            .expect("checkout")
    }

    /// Checks the cart out with Stripe; the order.
    pub async fn checked_out(&self, buyer: &str, key: &str) -> Value {
        let response = self.checkout(buyer, key, "stripe").await;
        assert_eq!(response.status(), 201, "{}", json(response).await);
        json(response).await["data"].clone()
    }

    /// Posts Stripe's signed `payment_intent.succeeded` for `order` (its
    /// PaymentIntent at the stand-in), as Stripe would.
    pub async fn pay(&self, order: &Value) -> reqwest::Response {
        let intent = order["payment"]["reference"]
            .as_str()
            .expect("a PaymentIntent");
        let (body, signature) = self.stand_in.settle_intent(intent, true);
        self.post_stripe(body, signature).await
    }

    /// Paystack's signed `charge.success` for a Paystack `order` (its
    /// transaction at the stand-in), as Paystack would send it.
    pub async fn pay_paystack(&self, order: &Value) -> reqwest::Response {
        self.pay_paystack_as(order, 4_099_260_516).await
    }

    /// [`Market::pay_paystack`] with the event's `data.id` (Paystack's
    /// events are told apart by it).
    pub async fn pay_paystack_as(&self, order: &Value, data_id: i64) -> reqwest::Response {
        let reference = order["payment"]["reference"]
            .as_str()
            .expect("a Paystack reference");
        let body = serde_json::to_vec(&json!({
            "event": "charge.success",
            "data": {
                "id": data_id,
                "status": "success",
                "reference": reference,
                "amount": order["total"],
                "currency": order["currency"],
                "channel": "card",
                "metadata": {"marketplace_order_id": order["id"]},
            },
        }))
        .expect("JSON");
        let signature =
            landlord_payments::signature::sign_paystack(&body, super::providers::PAYSTACK_KEY);
        self.app
            .client
            .post(self.app.url("/api/v1/webhooks/paystack"))
            .header("content-type", "application/json")
            .header("x-paystack-signature", signature)
            .body(body)
            .send()
            .await
            .expect("webhook")
    }

    pub async fn post_stripe(&self, body: Vec<u8>, signature: String) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/api/v1/webhooks/stripe"))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("webhook")
    }

    pub async fn order(&self, buyer: &str, id: &str) -> Value {
        let response = self
            .app
            .get_as(&format!("/api/v1/marketplace/orders/{id}"), buyer)
            .await;
        assert_eq!(response.status(), 200);
        json(response).await["data"].clone()
    }

    /// Waits until the buyer's order has `status`.
    pub async fn wait_for_order(&self, buyer: &str, id: &str, status: &str) -> Value {
        eventually(
            format!("order {id} to be {status}"),
            Duration::from_secs(10),
            async || {
                let order = self.order(buyer, id).await;
                (order["status"] == status).then_some(order)
            },
        )
        .await
    }

    /// The product's `stock`, `reserved`, and the sum of its live reservations.
    pub async fn stock(&self, product_id: &str) -> (i64, i64, i64) {
        let (stock, reserved): (i64, i64) =
            sqlx::query_as("SELECT stock, reserved FROM marketplace_products WHERE id = $1")
                .bind(product_id)
                .fetch_one(self.app.db.pool())
                .await
                .expect("the product");
        let live = self
            .app
            .count(
                "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM marketplace_reservations \
                 WHERE product_id = $1 AND status = 'live'",
                &[product_id],
            )
            .await;
        (stock, reserved, live)
    }

    /// The store's vendor order moves to `status`.
    pub async fn move_part(&self, store: &Store, part_id: &str, body: Value) -> reqwest::Response {
        self.app
            .post_as(
                &format!("/api/v1/marketplace/vendor/orders/{part_id}/status"),
                &store.owner,
                &body,
            )
            .await
    }

    /// Moves the store's vendor order all the way to delivered.
    pub async fn deliver(&self, store: &Store, part_id: &str) {
        for body in [
            json!({"status": "processing"}),
            json!({"status": "shipped", "tracking_reference": "TRACK-1"}),
            json!({"status": "delivered"}),
        ] {
            let moved = self.move_part(store, part_id, body).await;
            assert_eq!(moved.status(), 200, "{}", json(moved).await);
        }
    }
}

/// The vendor order of `order` that belongs to `store`.
pub fn part_of(order: &Value, store: &Store) -> String {
    order["vendor_orders"]
        .as_array()
        .and_then(|parts| {
            parts
                .iter()
                .find(|p| p["vendor"]["organization_id"] == store.org_id.as_str())
        })
        .and_then(|p| p["id"].as_str())
        .expect("the store's part of the order")
        .to_string()
}
