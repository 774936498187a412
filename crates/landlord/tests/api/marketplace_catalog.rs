//! Marketplace, the storefront side: full-text and
//! radius search over the catalog, reviews after delivery, stores applying,
//! approved and suspended, a Paystack checkout confirmed by its verified
//! webhook, bad input on every endpoint, and the stores' event history.
//! Over HTTP, on SQLite and PostgreSQL.

use std::collections::HashSet;
use std::time::Duration;

use landlord_payments::signature::sign_paystack;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::token_of;
use crate::support::app::json;
use crate::support::errors::{assert_error, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::marketplace::{part_of, Market, Store};
use crate::support::providers::PAYSTACK_KEY;
use crate::support::team::join;
use crate::support::Backend;

backend_tests!(
    full_text_search_finds_the_products_matching_every_word,
    radius_search_finds_the_products_within_the_distance,
    reviews_follow_delivery_and_rate_the_product_and_its_store,
    stores_apply_once_wait_for_approval_and_suspension_hides_them,
    a_paystack_checkout_is_confirmed_by_its_verified_webhook,
    bad_input_is_refused_naming_the_field_on_every_endpoint,
    a_store_sees_its_own_order_events_only,
);

// ---- helpers ---------------------------------------------------------------------------

/// What a store sends to apply (Stripe payouts).
fn application(slug: &str) -> Value {
    json!({
        "store_name": format!("{slug} store"),
        "slug": slug,
        "payout": {"provider": "stripe", "account": format!("acct_{}", slug.replace('-', ""))},
    })
}

/// A store that applied and waits for the operator (not approved).
async fn applied(market: &Market, slug: &str) -> Store {
    let registered = market
        .app
        .register(&format!("{slug}-owner@example.com"), &format!("{slug} Ltd"))
        .await;
    let owner = token_of(&registered, "access_token");
    let org_id = token_of(&registered["organization"], "id");
    let answer = market
        .app
        .post_as("/api/v1/marketplace/vendor", &owner, &application(slug))
        .await;
    assert_eq!(answer.status(), 201, "{}", json(answer).await);
    Store {
        org_id,
        owner,
        slug: slug.to_string(),
    }
}

async fn suspend(market: &Market, store: &Store, reason: &str) -> reqwest::Response {
    market
        .app
        .post_as(
            &format!("/api/v1/admin/marketplace/vendors/{}/suspend", store.org_id),
            &market.operator,
            &json!({ "reason": reason }),
        )
        .await
}

/// `GET /marketplace/products` with `query` (no one signed in); the answer's body.
async fn catalog_page(market: &Market, query: &[(&str, &str)]) -> Value {
    let response = market
        .app
        .client
        .get(market.app.url("/api/v1/marketplace/products"))
        .query(query)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200, "{query:?}");
    json(response).await
}

/// `GET /marketplace/products` with `query`, unchecked.
async fn catalog_answer(market: &Market, query: &[(&str, &str)]) -> reqwest::Response {
    market
        .app
        .client
        .get(market.app.url("/api/v1/marketplace/products"))
        .query(query)
        .send()
        .await
        .expect("request sent")
}

/// The titles the catalog lists for `query` (one page of 100), sorted.
async fn found(market: &Market, query: &[(&str, &str)]) -> Vec<String> {
    let mut query = query.to_vec();
    query.push(("limit", "100"));
    let page = catalog_page(market, &query).await;
    assert!(page["meta"]["next_cursor"].is_null(), "{page}");
    let mut titles: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    titles
}

fn sorted(titles: &[&str]) -> Vec<String> {
    let mut titles: Vec<String> = titles.iter().map(|t| t.to_string()).collect();
    titles.sort();
    titles
}

/// Walks every page of `query` with `limit`; the ids in the order given.
async fn walk(market: &Market, query: &[(&str, &str)], limit: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let mut q = query.to_vec();
        q.push(("limit", limit));
        if !cursor.is_empty() {
            q.push(("cursor", &cursor));
        }
        let page = catalog_page(market, &q).await;
        pages += 1;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit.parse().unwrap(), "{page}");
        ids.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return (ids, pages),
        }
        assert!(pages < 20, "the pages never end");
    }
}

async fn patch_as(market: &Market, path: &str, token: &str, body: &Value) -> reqwest::Response {
    market
        .app
        .client
        .patch(market.app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// `method path` with `raw` as a JSON body (malformed on purpose).
async fn send_raw(
    market: &Market,
    method: reqwest::Method,
    path: &str,
    token: &str,
    raw: &str,
) -> reqwest::Response {
    market
        .app
        .client
        .request(method, market.app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("idempotency-key", "raw-body")
        .body(raw.to_string())
        .send()
        .await
        .expect("request sent")
}

async fn checkout_body(market: &Market, buyer: &str, key: &str, body: &Value) -> reqwest::Response {
    market
        .app
        .client
        .post(market.app.url("/api/v1/marketplace/checkout"))
        .bearer_auth(buyer)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("checkout")
}

/// A buyer's paid order of `quantity` × `product`; the order.
async fn paid_order(market: &Market, buyer: &str, lines: &[(&str, i64)], key: &str) -> Value {
    for (product, quantity) in lines {
        let added = market.add(buyer, product, *quantity).await;
        assert_eq!(added.status(), 201, "{}", json(added).await);
    }
    let order = market.checked_out(buyer, key).await;
    assert_eq!(market.pay(&order).await.status(), 200);
    market
        .wait_for_order(buyer, order["id"].as_str().unwrap(), "confirmed")
        .await;
    order
}

// ---- 1. full-text search ---------------------------------------------------------------

async fn full_text_search_finds_the_products_matching_every_word(backend: Backend) {
    let market = Market::start(backend).await;
    let lumen = market.store("lumen", None).await;
    let hearth = market.store("hearth", None).await;
    let brass = market
        .product(
            &lumen,
            "Brass Desk Lamp",
            4_000,
            5,
            json!({"description": "A warm reading light", "categories": ["lighting"]}),
        )
        .await;
    let floor = market
        .product(
            &lumen,
            "Floor Lamp",
            9_000,
            5,
            json!({"description": "Tall, with a linen shade", "categories": ["lighting"]}),
        )
        .await;
    let vase = market
        .product(
            &lumen,
            "Ceramic Vase",
            2_500,
            5,
            json!({"description": "Thrown by hand", "categories": ["decor"]}),
        )
        .await;
    let oil = market
        .product(
            &hearth,
            "Lamp Oil",
            120_000,
            5,
            json!({"description": "Smokeless paraffin", "currency": "NGN", "categories": ["supplies"]}),
        )
        .await;
    let kettle = market
        .product(
            &hearth,
            "Cast Iron Kettle",
            6_000,
            5,
            json!({"description": "Whistles when it boils", "categories": ["kitchen"]}),
        )
        .await;
    // Never listed: a draft, an archived product, a pending store's, a suspended store's.
    let draft = market
        .product(&lumen, "Draft Lamp", 1_000, 5, json!({"status": "draft"}))
        .await;
    let archived = market
        .product(
            &lumen,
            "Retired Lamp",
            1_000,
            5,
            json!({"status": "archived"}),
        )
        .await;
    let waiting = applied(&market, "waiting").await;
    let pending_lamp = market
        .product(&waiting, "Pending Lamp", 1_000, 5, json!({}))
        .await;
    let banned = market.store("banned", None).await;
    let banned_lamp = market
        .product(&banned, "Banned Lamp", 1_000, 5, json!({}))
        .await;
    assert_eq!(
        found(&market, &[("q", "banned")]).await,
        sorted(&["Banned Lamp"])
    );
    assert_eq!(
        suspend(&market, &banned, "counterfeit goods")
            .await
            .status(),
        200
    );

    let lamps = sorted(&["Brass Desk Lamp", "Floor Lamp", "Lamp Oil"]);
    // Stemming: "lamps" finds "lamp"; case does not matter.
    assert_eq!(found(&market, &[("q", "lamps")]).await, lamps);
    assert_eq!(found(&market, &[("q", "lamp")]).await, lamps);
    assert_eq!(found(&market, &[("q", "LAMP")]).await, lamps);
    // Every word must match: title, description, categories.
    assert_eq!(
        found(&market, &[("q", "brass lamp")]).await,
        sorted(&["Brass Desk Lamp"])
    );
    assert_eq!(
        found(&market, &[("q", "reading lights")]).await,
        sorted(&["Brass Desk Lamp"])
    );
    assert_eq!(
        found(&market, &[("q", "lighting")]).await,
        sorted(&["Brass Desk Lamp", "Floor Lamp"])
    );
    assert_eq!(
        found(&market, &[("q", "paraffin")]).await,
        sorted(&["Lamp Oil"])
    );
    assert_eq!(
        found(&market, &[("q", "whistling kettles")]).await,
        sorted(&["Cast Iron Kettle"])
    );
    // Common words and a possessive's "s" are not required (PostgreSQL's
    // English stop words, on both backends).
    assert_eq!(
        found(&market, &[("q", "a lamp for reading")]).await,
        sorted(&["Brass Desk Lamp"])
    );
    assert_eq!(
        found(&market, &[("q", "the kettle's whistle")]).await,
        sorted(&["Cast Iron Kettle"])
    );
    assert!(found(&market, &[("q", "the")]).await.is_empty());
    assert!(found(&market, &[("q", "kettle lamp")]).await.is_empty());
    assert!(found(&market, &[("q", "telescope")]).await.is_empty());
    // Punctuation is no query syntax.
    assert_eq!(
        found(&market, &[("q", "\"brass\" (desk*) -")]).await,
        sorted(&["Brass Desk Lamp"])
    );

    // Filters, alone and with the search.
    let all = sorted(&[
        "Brass Desk Lamp",
        "Floor Lamp",
        "Ceramic Vase",
        "Lamp Oil",
        "Cast Iron Kettle",
    ]);
    assert_eq!(found(&market, &[]).await, all);
    assert_eq!(
        found(&market, &[("category", "lighting")]).await,
        sorted(&["Brass Desk Lamp", "Floor Lamp"])
    );
    assert_eq!(
        found(&market, &[("category", "kitchen")]).await,
        sorted(&["Cast Iron Kettle"])
    );
    assert_eq!(
        found(&market, &[("vendor", hearth.slug.as_str())]).await,
        sorted(&["Lamp Oil", "Cast Iron Kettle"])
    );
    assert!(found(&market, &[("vendor", "banned")]).await.is_empty());
    assert!(found(&market, &[("vendor", "waiting")]).await.is_empty());
    assert_eq!(
        found(&market, &[("min_price", "3000"), ("max_price", "7000")]).await,
        sorted(&["Brass Desk Lamp", "Cast Iron Kettle"])
    );
    assert_eq!(
        found(&market, &[("min_price", "9000")]).await,
        sorted(&["Floor Lamp", "Lamp Oil"])
    );
    assert_eq!(
        found(&market, &[("currency", "NGN")]).await,
        sorted(&["Lamp Oil"])
    );
    assert_eq!(
        found(&market, &[("q", "lamp"), ("currency", "USD")]).await,
        sorted(&["Brass Desk Lamp", "Floor Lamp"])
    );
    assert_eq!(
        found(
            &market,
            &[("q", "lamp"), ("vendor", "lumen"), ("max_price", "5000")]
        )
        .await,
        sorted(&["Brass Desk Lamp"])
    );
    assert_eq!(
        found(&market, &[("q", "lamp"), ("category", "supplies")]).await,
        sorted(&["Lamp Oil"])
    );

    // Listed products show their store; the others are not found.
    let page = catalog_page(&market, &[("q", "paraffin")]).await;
    let listed = &page["data"][0];
    assert_eq!(listed["id"], oil.as_str());
    assert_eq!(listed["vendor"]["slug"], "hearth");
    assert_eq!(listed["vendor"]["organization_id"], hearth.org_id.as_str());
    assert_eq!(listed["categories"], json!(["supplies"]));
    assert_eq!(listed["available"], 5);
    assert!(listed.get("distance_km").is_none(), "{listed}");
    for id in [&draft, &archived, &pending_lamp, &banned_lamp] {
        let answer = market
            .app
            .get(&format!("/api/v1/marketplace/products/{id}"))
            .await;
        assert_error(answer, 404, "NOT_FOUND").await;
    }

    // Pages of two walk the whole listing, newest first, without repeats.
    let (ids, pages) = walk(&market, &[], "2").await;
    assert_eq!(pages, 3);
    assert_eq!(
        ids,
        [&kettle, &oil, &vase, &floor, &brass].map(String::clone)
    );
    let (ids, pages) = walk(&market, &[("q", "lamps")], "1").await;
    assert_eq!(pages, 3);
    assert_eq!(ids, [&oil, &floor, &brass].map(String::clone));
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3);

    // A store's change is searched at once: renamed, archived.
    let renamed = patch_as(
        &market,
        &format!("/api/v1/marketplace/vendor/products/{vase}"),
        &lumen.owner,
        &json!({"title": "Ceramic Lamp Base"}),
    )
    .await;
    assert_eq!(renamed.status(), 200);
    assert!(found(&market, &[("q", "vase")]).await.is_empty());
    assert_eq!(
        found(&market, &[("q", "ceramic lamp")]).await,
        sorted(&["Ceramic Lamp Base"])
    );
    let retired = patch_as(
        &market,
        &format!("/api/v1/marketplace/vendor/products/{brass}"),
        &lumen.owner,
        &json!({"status": "archived"}),
    )
    .await;
    assert_eq!(retired.status(), 200);
    assert_eq!(
        found(&market, &[("q", "lamps")]).await,
        sorted(&["Ceramic Lamp Base", "Floor Lamp", "Lamp Oil"])
    );
}

// ---- 2. radius search ------------------------------------------------------------------

const LAGOS: (f64, f64) = (6.5244, 3.3792);
const IKEJA: (f64, f64) = (6.6018, 3.3515);
const IBADAN: (f64, f64) = (7.3775, 3.9470);
const ABUJA: (f64, f64) = (9.0765, 7.3986);

fn at((latitude, longitude): (f64, f64)) -> Value {
    json!({"location": {"latitude": latitude, "longitude": longitude}})
}

/// Title → distance of the catalog's answer around `center` within `radius`.
async fn around(
    market: &Market,
    center: (f64, f64),
    radius: &str,
    more: &[(&str, &str)],
) -> Vec<(String, f64)> {
    let (lat, lng) = (center.0.to_string(), center.1.to_string());
    let mut query = vec![
        ("latitude", lat.as_str()),
        ("longitude", lng.as_str()),
        ("radius_km", radius),
        ("limit", "100"),
    ];
    query.extend_from_slice(more);
    let page = catalog_page(market, &query).await;
    let mut hits: Vec<(String, f64)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_string(),
                p["distance_km"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("distance_km in {p}")),
            )
        })
        .collect();
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    hits
}

fn titles_of(hits: &[(String, f64)]) -> Vec<&str> {
    hits.iter().map(|(t, _)| t.as_str()).collect()
}

fn distance(hits: &[(String, f64)], title: &str) -> f64 {
    hits.iter()
        .find(|(t, _)| t == title)
        .map(|(_, d)| *d)
        .unwrap_or_else(|| panic!("{title} in {hits:?}"))
}

async fn radius_search_finds_the_products_within_the_distance(backend: Backend) {
    let market = Market::start(backend).await;
    let eko = market.store("eko", Some(LAGOS)).await;
    let oyo = market.store("oyo", Some(IBADAN)).await;
    let fct = market.store("fct", Some(ABUJA)).await;
    let online = market.store("online", None).await;
    market.product(&eko, "Eko Lamp", 3_000, 5, at(LAGOS)).await;
    market.product(&eko, "Ikeja Rug", 8_000, 5, at(IKEJA)).await;
    market.product(&oyo, "Oyo Lamp", 3_500, 5, at(IBADAN)).await;
    market
        .product(&fct, "Abuja Lamp", 4_000, 5, at(ABUJA))
        .await;
    market
        .product(&online, "Online Lamp", 2_000, 5, json!({}))
        .await;

    // 50 km around Lagos: the two Lagos products, with their distances.
    let near = around(&market, LAGOS, "50", &[]).await;
    assert_eq!(titles_of(&near), ["Eko Lamp", "Ikeja Rug"], "{near:?}");
    assert_eq!(distance(&near, "Eko Lamp"), 0.0);
    let ikeja = distance(&near, "Ikeja Rug");
    assert!((8.0..=10.5).contains(&ikeja), "Lagos–Ikeja {ikeja} km");
    // 200 km: Ibadan, about 113 km away, too.
    let wider = around(&market, LAGOS, "200", &[]).await;
    assert_eq!(
        titles_of(&wider),
        ["Eko Lamp", "Ikeja Rug", "Oyo Lamp"],
        "{wider:?}"
    );
    let ibadan = distance(&wider, "Oyo Lamp");
    assert!(
        (110.0..=116.0).contains(&ibadan),
        "Lagos–Ibadan {ibadan} km"
    );
    // 600 km: Abuja, about 525 km; the product without a location never.
    let widest = around(&market, LAGOS, "600", &[]).await;
    assert_eq!(
        titles_of(&widest),
        ["Abuja Lamp", "Eko Lamp", "Ikeja Rug", "Oyo Lamp"],
        "{widest:?}"
    );
    let abuja = distance(&widest, "Abuja Lamp");
    assert!((515.0..=535.0).contains(&abuja), "Lagos–Abuja {abuja} km");
    // Around Abuja: only Abuja's.
    let there = around(&market, ABUJA, "50", &[]).await;
    assert_eq!(titles_of(&there), ["Abuja Lamp"]);
    assert_eq!(distance(&there, "Abuja Lamp"), 0.0);
    // With the full-text search and a filter.
    let lamps = around(&market, LAGOS, "200", &[("q", "lamps")]).await;
    assert_eq!(titles_of(&lamps), ["Eko Lamp", "Oyo Lamp"]);
    let cheap = around(&market, LAGOS, "600", &[("max_price", "3500")]).await;
    assert_eq!(titles_of(&cheap), ["Eko Lamp", "Oyo Lamp"]);
    // The largest radius allowed.
    let all = around(&market, LAGOS, "1000", &[]).await;
    assert_eq!(all.len(), 4);
    // Pages of one walk the radius results without repeats.
    let (lat, lng) = (LAGOS.0.to_string(), LAGOS.1.to_string());
    let query = [
        ("latitude", lat.as_str()),
        ("longitude", lng.as_str()),
        ("radius_km", "200"),
    ];
    let (ids, pages) = walk(&market, &query, "1").await;
    assert_eq!(pages, 3, "{ids:?}");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3);

    // Only some of the three: refused, naming radius_km.
    for partial in [
        vec![("latitude", "6.5"), ("longitude", "3.3")],
        vec![("radius_km", "50")],
        vec![("latitude", "6.5"), ("radius_km", "50")],
        vec![("longitude", "3.3"), ("radius_km", "50")],
    ] {
        assert_invalid_field(catalog_answer(&market, &partial).await, "radius_km").await;
    }
    // Out of range: the field named.
    for (latitude, longitude, radius, field) in [
        ("91", "3.3", "50", "latitude"),
        ("-90.5", "3.3", "50", "latitude"),
        ("6.5", "181", "50", "longitude"),
        ("6.5", "-180.1", "50", "longitude"),
        ("6.5", "3.3", "0", "radius_km"),
        ("6.5", "3.3", "-5", "radius_km"),
        ("6.5", "3.3", "1000.5", "radius_km"),
        ("6.5", "3.3", "NaN", "radius_km"),
    ] {
        let answer = catalog_answer(
            &market,
            &[
                ("latitude", latitude),
                ("longitude", longitude),
                ("radius_km", radius),
            ],
        )
        .await;
        assert_invalid_field(answer, field).await;
    }
}

// ---- 3. reviews ------------------------------------------------------------------------

async fn reviews_follow_delivery_and_rate_the_product_and_its_store(backend: Backend) {
    let market = Market::start(backend).await;
    let potter = market.store("potter", None).await;
    let rival = market.store("rival", None).await;
    let pot = market
        .product(&potter, "Clay Pot", 2_000, 5, json!({}))
        .await;
    let cup = market
        .product(&potter, "Clay Cup", 1_000, 5, json!({}))
        .await;
    let buyer = market.buyer("reviewer@example.com").await;
    let order = paid_order(&market, &buyer, &[(&pot, 1), (&cup, 2)], "review-1").await;
    let order_id = order["id"].as_str().unwrap();
    let item_of = |product: &str| {
        order["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["product_id"] == product)
            .and_then(|i| i["id"].as_str())
            .unwrap()
            .to_string()
    };
    let (pot_item, cup_item) = (item_of(&pot), item_of(&cup));
    let review_path =
        |item: &str| format!("/api/v1/marketplace/orders/{order_id}/items/{item}/review");

    // Not delivered yet: refused.
    let early = market
        .app
        .post_as(&review_path(&pot_item), &buyer, &json!({"rating": 4}))
        .await;
    let body = assert_error(early, 409, "CONFLICT").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("delivered"),
        "{body}"
    );
    let part = part_of(&order, &potter);
    market
        .move_part(&potter, &part, json!({"status": "processing"}))
        .await;
    let shipped = market
        .move_part(
            &potter,
            &part,
            json!({"status": "shipped", "tracking_reference": "TRK-9"}),
        )
        .await;
    assert_eq!(shipped.status(), 200);
    let in_transit = market
        .app
        .post_as(&review_path(&pot_item), &buyer, &json!({"rating": 4}))
        .await;
    assert_error(in_transit, 409, "CONFLICT").await;
    let delivered = market
        .move_part(&potter, &part, json!({"status": "delivered"}))
        .await;
    assert_eq!(delivered.status(), 200);

    // Delivered: one review per item.
    let created = market
        .app
        .post_as(
            &review_path(&pot_item),
            &buyer,
            &json!({"rating": 4, "text": "Sturdy and well glazed"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let review = json(created).await["data"].clone();
    assert_eq!(review["rating"], 4);
    assert_eq!(review["text"], "Sturdy and well glazed");
    assert_eq!(review["product_id"], pot.as_str());
    assert_eq!(review["vendor_id"], potter.org_id.as_str());
    assert_eq!(review["order_item_id"], pot_item.as_str());
    assert!(review["reply"].is_null() && review["replied_at"].is_null());
    let review_id = review["id"].as_str().unwrap().to_string();
    let twice = market
        .app
        .post_as(&review_path(&pot_item), &buyer, &json!({"rating": 1}))
        .await;
    assert_error(twice, 409, "CONFLICT").await;
    // A rating is 1 to 5.
    for rating in [0, 6, -1] {
        let answer = market
            .app
            .post_as(
                &review_path(&cup_item),
                &buyer,
                &json!({ "rating": rating }),
            )
            .await;
        assert_invalid_field(answer, "rating").await;
    }
    let second = market
        .app
        .post_as(&review_path(&cup_item), &buyer, &json!({"rating": 5}))
        .await;
    assert_eq!(second.status(), 201);

    // The product's and the store's ratings.
    let product = |id: String| {
        let market = &market;
        async move {
            json(
                market
                    .app
                    .get(&format!("/api/v1/marketplace/products/{id}"))
                    .await,
            )
            .await["data"]
                .clone()
        }
    };
    assert_eq!(
        product(pot.clone()).await["rating"],
        json!({"average": 4.0, "count": 1})
    );
    assert_eq!(
        product(cup.clone()).await["rating"],
        json!({"average": 5.0, "count": 1})
    );
    let store = json(market.app.get("/api/v1/marketplace/stores/potter").await).await;
    assert_eq!(store["data"]["rating"], json!({"average": 4.5, "count": 2}));
    let untouched = json(market.app.get("/api/v1/marketplace/stores/rival").await).await;
    assert_eq!(
        untouched["data"]["rating"],
        json!({"average": null, "count": 0})
    );
    // The order shows what was reviewed.
    let seen = market.order(&buyer, order_id).await;
    assert!(
        seen["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["reviewed"] == true),
        "{seen}"
    );
    // Listed under the product, publicly.
    let listed = json(
        market
            .app
            .get(&format!("/api/v1/marketplace/products/{pot}/reviews"))
            .await,
    )
    .await;
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], review_id.as_str());
    assert_eq!(listed[0]["text"], "Sturdy and well glazed");

    // Another store cannot reply; the store can.
    let reply_path = format!("/api/v1/marketplace/vendor/reviews/{review_id}/reply");
    let foreign = market
        .app
        .post_as(&reply_path, &rival.owner, &json!({"text": "Buy ours"}))
        .await;
    assert_error(foreign, 404, "NOT_FOUND").await;
    let replied = market
        .app
        .post_as(
            &reply_path,
            &potter.owner,
            &json!({"text": "Thank you for the kind words"}),
        )
        .await;
    assert_eq!(replied.status(), 200);
    let replied = json(replied).await["data"].clone();
    assert_eq!(replied["reply"], "Thank you for the kind words");
    assert!(replied["replied_at"].is_i64() || replied["replied_at"].is_string());
    let listed = json(
        market
            .app
            .get(&format!("/api/v1/marketplace/products/{pot}/reviews"))
            .await,
    )
    .await;
    assert_eq!(listed["data"][0]["reply"], "Thank you for the kind words");
    // The stores' own lists of reviews.
    let mine = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/reviews", &potter.owner)
            .await,
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 2);
    let theirs = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/reviews", &rival.owner)
            .await,
    )
    .await;
    assert_eq!(theirs["data"], json!([]));
}

// ---- 4. vendors ------------------------------------------------------------------------

async fn stores_apply_once_wait_for_approval_and_suspension_hides_them(backend: Backend) {
    let market = Market::start(backend).await;
    let app = &market.app;
    let registered = app.register("makers-owner@example.com", "Makers").await;
    let owner = token_of(&registered, "access_token");
    let org_id = token_of(&registered["organization"], "id");
    let (member, _) = join(
        app,
        &market.smtp,
        &owner,
        "makers-member@example.com",
        "member",
    )
    .await;

    // A member may not open the store…
    let refused = app
        .post_as(
            "/api/v1/marketplace/vendor",
            &member,
            &application("makers"),
        )
        .await;
    let body = assert_error(refused, 403, "FORBIDDEN").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manage_store"),
        "{body}"
    );
    // …the owner may, once; the slug is the store's.
    let opened = app
        .post_as("/api/v1/marketplace/vendor", &owner, &application("makers"))
        .await;
    assert_eq!(opened.status(), 201);
    let opened = json(opened).await["data"].clone();
    assert_eq!(opened["status"], "pending");
    assert_eq!(opened["organization_id"], org_id.as_str());
    assert!(opened["approved_at"].is_null());
    let again = app
        .post_as(
            "/api/v1/marketplace/vendor",
            &owner,
            &application("makers-two"),
        )
        .await;
    assert_error(again, 409, "CONFLICT").await;
    let rival = app.register("copycat-owner@example.com", "Copycat").await;
    let rival = token_of(&rival, "access_token");
    let taken = app
        .post_as("/api/v1/marketplace/vendor", &rival, &application("makers"))
        .await;
    let body = assert_error(taken, 409, "CONFLICT").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("slug"),
        "{body}"
    );
    // Taking another store's slug later is refused too.
    let elder = market.store("elder", None).await;
    let renamed = patch_as(
        &market,
        "/api/v1/marketplace/vendor",
        &owner,
        &json!({"slug": "elder"}),
    )
    .await;
    assert_error(renamed, 409, "CONFLICT").await;

    // The member adds products; while pending they are not for sale.
    let product = market
        .product(
            &Store {
                org_id: org_id.clone(),
                owner: member.clone(),
                slug: "makers".into(),
            },
            "Woven Basket",
            3_000,
            4,
            json!({}),
        )
        .await;
    let product_path = format!("/api/v1/marketplace/products/{product}");
    assert_error(app.get(&product_path).await, 404, "NOT_FOUND").await;
    assert!(found(&market, &[("vendor", "makers")]).await.is_empty());
    assert!(found(&market, &[("q", "basket")]).await.is_empty());
    assert_error(
        app.get("/api/v1/marketplace/stores/makers").await,
        404,
        "NOT_FOUND",
    )
    .await;
    let buyer = market.buyer("makers-buyer@example.com").await;
    assert_error(market.add(&buyer, &product, 1).await, 404, "NOT_FOUND").await;
    // The store's team sees it, pending.
    let own = json(app.get_as("/api/v1/marketplace/vendor", &member).await).await;
    assert_eq!(own["data"]["status"], "pending");

    // The operator's queue; no one else's.
    let pending = json(
        app.get_as(
            "/api/v1/admin/marketplace/vendors?status=pending",
            &market.operator,
        )
        .await,
    )
    .await;
    let slugs: Vec<&str> = pending["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["makers"]);
    let approved = json(
        app.get_as(
            "/api/v1/admin/marketplace/vendors?status=approved",
            &market.operator,
        )
        .await,
    )
    .await;
    assert_eq!(approved["data"][0]["slug"], "elder");
    assert_eq!(approved["data"].as_array().unwrap().len(), 1);
    let approve_path = format!("/api/v1/admin/marketplace/vendors/{org_id}/approve");
    let suspend_path = format!("/api/v1/admin/marketplace/vendors/{org_id}/suspend");
    for token in [&owner, &member, &buyer, &elder.owner] {
        for path in [
            "/api/v1/admin/marketplace/vendors",
            "/api/v1/admin/marketplace/vendors?status=pending",
            "/api/v1/admin/marketplace/figures",
            "/api/v1/admin/marketplace/payouts",
        ] {
            assert_error(app.get_as(path, token).await, 403, "FORBIDDEN").await;
        }
        let approve = app.post_as(&approve_path, token, &json!({})).await;
        assert_error(approve, 403, "FORBIDDEN").await;
        let suspend = app
            .post_as(&suspend_path, token, &json!({"reason": "rivals"}))
            .await;
        assert_error(suspend, 403, "FORBIDDEN").await;
        let run = app
            .post_as("/api/v1/admin/marketplace/payouts/run", token, &json!({}))
            .await;
        assert_error(run, 403, "FORBIDDEN").await;
    }
    let own = json(app.get_as("/api/v1/marketplace/vendor", &owner).await).await;
    assert_eq!(
        own["data"]["status"], "pending",
        "refused calls changed nothing"
    );

    // Approved: listed and for sale.
    let approved = app
        .post_as(&approve_path, &market.operator, &json!({}))
        .await;
    assert_eq!(approved.status(), 200);
    let approved = json(approved).await["data"].clone();
    assert_eq!(approved["status"], "approved");
    assert!(!approved["approved_at"].is_null());
    assert_eq!(app.get(&product_path).await.status(), 200);
    assert_eq!(
        found(&market, &[("q", "baskets")]).await,
        sorted(&["Woven Basket"])
    );
    assert_eq!(
        app.get("/api/v1/marketplace/stores/makers").await.status(),
        200
    );
    assert_eq!(market.add(&buyer, &product, 2).await.status(), 201);

    // Suspended: hidden, its carts cannot check out, nothing is reserved.
    let suspended = suspend(
        &market,
        &Store {
            org_id: org_id.clone(),
            owner: owner.clone(),
            slug: "makers".into(),
        },
        "counterfeit goods reported",
    )
    .await;
    assert_eq!(suspended.status(), 200);
    let suspended = json(suspended).await["data"].clone();
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["suspended_reason"], "counterfeit goods reported");
    assert_error(app.get(&product_path).await, 404, "NOT_FOUND").await;
    assert!(found(&market, &[("q", "basket")]).await.is_empty());
    assert!(found(&market, &[("vendor", "makers")]).await.is_empty());
    assert_error(
        app.get("/api/v1/marketplace/stores/makers").await,
        404,
        "NOT_FOUND",
    )
    .await;
    let cart = json(app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"][0]["purchasable"], false, "{cart}");
    let refused = market.checkout(&buyer, "suspended-1", "stripe").await;
    let body = assert_error(refused, 409, "CONFLICT").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Woven Basket"),
        "{body}"
    );
    assert_eq!(market.stock(&product).await, (4, 0, 0));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM marketplace_orders", &[])
            .await,
        0
    );
    assert_error(market.add(&buyer, &product, 1).await, 404, "NOT_FOUND").await;
    // The team sees why.
    let own = json(app.get_as("/api/v1/marketplace/vendor", &owner).await).await;
    assert_eq!(own["data"]["status"], "suspended");
    assert_eq!(
        own["data"]["suspended_reason"],
        "counterfeit goods reported"
    );
    let listed = json(
        app.get_as(
            "/api/v1/admin/marketplace/vendors?status=suspended",
            &market.operator,
        )
        .await,
    )
    .await;
    assert_eq!(listed["data"][0]["organization_id"], org_id.as_str());
    // Approved again, the cart checks out.
    let back = app
        .post_as(&approve_path, &market.operator, &json!({}))
        .await;
    assert_eq!(back.status(), 200);
    assert!(json(back).await["data"]["suspended_reason"].is_null());
    market.checked_out(&buyer, "suspended-2").await;
    assert_eq!(market.stock(&product).await, (4, 2, 2));
}

// ---- 5. Paystack -----------------------------------------------------------------------

/// Paystack's `charge.success` for `reference`, as Paystack sends it.
fn charge_success(
    id: i64,
    reference: &str,
    order_id: &str,
    amount: i64,
    currency: &str,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "charge.success",
        "data": {
            "id": id,
            "status": "success",
            "reference": reference,
            "amount": amount,
            "currency": currency,
            "channel": "card",
            "metadata": {"marketplace_order_id": order_id},
        },
    }))
    .unwrap()
}

async fn post_paystack(market: &Market, body: &[u8], signature: &str) -> reqwest::Response {
    market
        .app
        .client
        .post(market.app.url("/api/v1/webhooks/paystack"))
        .header("content-type", "application/json")
        .header("x-paystack-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .expect("webhook")
}

async fn a_paystack_checkout_is_confirmed_by_its_verified_webhook(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("adire", None).await;
    let product = market
        .product(&store, "Adire Fabric", 5_000, 6, json!({"currency": "NGN"}))
        .await;
    let buyer = market.buyer("adire-buyer@example.com").await;
    assert_eq!(market.add(&buyer, &product, 2).await.status(), 201);
    let started = market.checkout(&buyer, "adire-1", "paystack").await;
    assert_eq!(started.status(), 201);
    let order = json(started).await["data"].clone();
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(
        (order["total"].as_i64(), order["currency"].as_str()),
        (Some(10_000), Some("NGN"))
    );
    // The authorization URL to send the buyer to, and the reference.
    let payment = &order["payment"];
    assert_eq!(payment["provider"], "paystack");
    assert!(payment["client_secret"].is_null());
    let reference = payment["reference"].as_str().unwrap().to_string();
    assert!(!reference.is_empty());
    assert_eq!(
        payment["url"],
        format!("https://checkout.paystack.test/{reference}").as_str()
    );
    {
        let state = market.stand_in.state.lock().unwrap();
        assert_eq!(
            state.transactions.get(&reference),
            Some(&(10_000, "NGN".to_string()))
        );
        assert_eq!(
            state.transaction_metadata[&reference]["marketplace_order_id"],
            id.as_str()
        );
    }
    assert_eq!(market.stock(&product).await, (6, 2, 2));
    let cart = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"], json!([]));

    // Signed with another key: refused, nothing changes.
    let body = charge_success(4_099_260_516, &reference, &id, 10_000, "NGN");
    let forged = post_paystack(&market, &body, &sign_paystack(&body, "sk_test_wrong")).await;
    assert_eq!(forged.status(), 400);
    // Signed, but Paystack's verify call fails: not confirmed until it answers.
    market.stand_in.state.lock().unwrap().verify_fails = true;
    let signed = post_paystack(&market, &body, &sign_paystack(&body, PAYSTACK_KEY)).await;
    assert_eq!(signed.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(market.order(&buyer, &id).await["status"], "pending_payment");
    assert_eq!(market.stock(&product).await, (6, 2, 2));
    market.stand_in.state.lock().unwrap().verify_fails = false;
    let confirmed = market.wait_for_order(&buyer, &id, "confirmed").await;
    assert!(confirmed["paid_at"].is_string() || confirmed["paid_at"].is_i64());
    assert_eq!(confirmed["vendor_orders"][0]["status"], "confirmed");
    assert_eq!(market.stock(&product).await, (4, 0, 0), "the stock is sold");
    let ledger = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/ledger", &store.owner)
            .await,
    )
    .await;
    assert_eq!(
        ledger["data"]["balances"],
        json!([{"currency": "NGN", "earned": 9_000, "reversed": 0, "paid_out": 0, "balance": 9_000}])
    );
    market
        .smtp
        .wait_for_subject("adire-buyer@example.com", "is confirmed")
        .await;
    // Paystack sends it again: sold once.
    let again = post_paystack(&market, &body, &sign_paystack(&body, PAYSTACK_KEY)).await;
    assert_eq!(again.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(market.stock(&product).await, (4, 0, 0));

    // The server believes Paystack's verify call, not the event: an event
    // claiming a smaller amount still confirms the order for what was paid,
    // and one for a transaction Paystack does not know confirms nothing.
    assert_eq!(market.add(&buyer, &product, 1).await.status(), 201);
    let second = market.checkout(&buyer, "adire-2", "paystack").await;
    assert_eq!(second.status(), 201);
    let second = json(second).await["data"].clone();
    let second_id = second["id"].as_str().unwrap().to_string();
    let unknown = charge_success(
        4_099_260_517,
        "mkt_unknown_reference",
        &second_id,
        5_000,
        "NGN",
    );
    let posted = post_paystack(&market, &unknown, &sign_paystack(&unknown, PAYSTACK_KEY)).await;
    assert_eq!(posted.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        market.order(&buyer, &second_id).await["status"],
        "pending_payment"
    );
    assert_eq!(market.stock(&product).await, (4, 1, 1));
}

// ---- 6. bad input ----------------------------------------------------------------------

async fn bad_input_is_refused_naming_the_field_on_every_endpoint(backend: Backend) {
    let market = Market::start(backend).await;
    let app = &market.app;
    let store = market.store("strict", None).await;
    let product = market
        .product(&store, "Plain Mug", 1_200, 10, json!({}))
        .await;
    let buyer = market.buyer("strict-buyer@example.com").await;
    let order = paid_order(&market, &buyer, &[(&product, 1)], "strict-1").await;
    let part = part_of(&order, &store);
    let item = order["items"][0]["id"].as_str().unwrap().to_string();
    let order_id = order["id"].as_str().unwrap().to_string();
    assert_eq!(market.add(&buyer, &product, 1).await.status(), 201);
    let cart = json(app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    let line = cart["data"]["lines"][0]["id"].as_str().unwrap().to_string();
    let newcomer = token_of(
        &app.register("newcomer-owner@example.com", "Newcomer").await,
        "access_token",
    );
    let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";

    use reqwest::Method;
    let product_path = format!("/api/v1/marketplace/vendor/products/{product}");
    let line_path = format!("/api/v1/marketplace/cart/lines/{line}");
    let status_path = format!("/api/v1/marketplace/vendor/orders/{part}/status");
    let review_path = format!("/api/v1/marketplace/orders/{order_id}/items/{item}/review");
    let suspend_path = format!("/api/v1/admin/marketplace/vendors/{}/suspend", store.org_id);

    // Malformed JSON: 400, on every endpoint that takes a body.
    let endpoints: Vec<(Method, String, &str)> = vec![
        (Method::POST, "/api/v1/marketplace/vendor".into(), &newcomer),
        (
            Method::PATCH,
            "/api/v1/marketplace/vendor".into(),
            &store.owner,
        ),
        (
            Method::POST,
            "/api/v1/marketplace/vendor/products".into(),
            &store.owner,
        ),
        (Method::PATCH, product_path.clone(), &store.owner),
        (
            Method::POST,
            "/api/v1/marketplace/cart/lines".into(),
            &buyer,
        ),
        (Method::PATCH, line_path.clone(), &buyer),
        (Method::POST, "/api/v1/marketplace/checkout".into(), &buyer),
        (Method::POST, status_path.clone(), &store.owner),
        (Method::POST, review_path.clone(), &buyer),
        (
            Method::POST,
            format!("/api/v1/marketplace/vendor/reviews/{unknown}/reply"),
            &store.owner,
        ),
        (Method::POST, suspend_path.clone(), &market.operator),
    ];
    for (method, path, token) in &endpoints {
        for raw in ["{not json", "", "{", "{1: 2}"] {
            let answer = send_raw(&market, method.clone(), path, token, raw).await;
            let status = answer.status();
            let body = json(answer).await;
            assert_eq!(status, 400, "{method} {path} {raw:?}: {body}");
            assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains("JSON"),
                "{method} {path} {raw:?}: {body}"
            );
        }
    }

    // Wrong types, out of range, unknown fields: 422 naming the field.
    let stripe = json!({"provider": "stripe", "account": "acct_ok"});
    let apply_cases = [
        (
            json!({"store_name": 5, "slug": "newcomer", "payout": stripe}),
            "store_name",
        ),
        (
            json!({"store_name": "", "slug": "newcomer", "payout": stripe}),
            "store_name",
        ),
        (
            json!({"store_name": "N", "slug": "Not A Slug", "payout": stripe}),
            "slug",
        ),
        (
            json!({"store_name": "N", "slug": "a--b", "payout": stripe}),
            "slug",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": {"provider": "paypal", "account": "acct_x"}}),
            "payout.provider",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": {"provider": "stripe", "account": "RCP_x"}}),
            "payout.account",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": stripe, "location": {"latitude": 91, "longitude": 0}}),
            "location.latitude",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": stripe, "location": {"latitude": 0, "longitude": -181}}),
            "location.longitude",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": stripe, "location": {"latitude": "north", "longitude": 0}}),
            "location.latitude",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": stripe, "description": "x".repeat(2001)}),
            "description",
        ),
        (
            json!({"store_name": "N", "slug": "newcomer", "payout": stripe, "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in apply_cases {
        let answer = app
            .post_as("/api/v1/marketplace/vendor", &newcomer, &body)
            .await;
        assert_invalid_field(answer, field).await;
    }
    assert_error(
        app.get_as("/api/v1/marketplace/vendor", &newcomer).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let update_cases = [
        (json!({"slug": 3}), "slug"),
        (json!({"store_name": "   "}), "store_name"),
        (
            json!({"location": {"latitude": 0, "longitude": 200}}),
            "location.longitude",
        ),
        // A nested field that is missing: its object is named (the reason names the field).
        (json!({"payout": {"provider": "stripe"}}), "payout"),
        (json!({"status": "approved"}), "status"),
    ];
    for (body, field) in update_cases {
        let answer = patch_as(&market, "/api/v1/marketplace/vendor", &store.owner, &body).await;
        assert_invalid_field(answer, field).await;
    }
    let own = json(app.get_as("/api/v1/marketplace/vendor", &store.owner).await).await;
    assert_eq!(own["data"]["status"], "approved");
    assert_eq!(own["data"]["slug"], "strict");

    let new_product = |extra: Value| {
        let mut body =
            json!({"title": "Cup", "slug": "cup", "price": 100, "currency": "USD", "stock": 1});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let product_cases = [
        (new_product(json!({"title": ""})), "title"),
        (new_product(json!({"title": 7})), "title"),
        (new_product(json!({"slug": "Cup!"})), "slug"),
        (new_product(json!({"price": 0})), "price"),
        (new_product(json!({"price": -100})), "price"),
        (new_product(json!({"price": "ten"})), "price"),
        (new_product(json!({"price": 10.5})), "price"),
        (new_product(json!({"price": 10_000_000_001_i64})), "price"),
        (new_product(json!({"currency": "usd"})), "currency"),
        (new_product(json!({"currency": "DOLLARS"})), "currency"),
        (new_product(json!({"stock": -1})), "stock"),
        (new_product(json!({"stock": 1_000_001})), "stock"),
        (new_product(json!({"status": "sold"})), "status"),
        (
            new_product(json!({"categories": ["Bad Category"]})),
            "categories",
        ),
        (new_product(json!({"categories": "lighting"})), "categories"),
        (
            new_product(
                json!({"categories": (0..11).map(|n| format!("c{n}")).collect::<Vec<_>>()}),
            ),
            "categories",
        ),
        (
            new_product(json!({"images": ["http://example.com/a.png"]})),
            "images",
        ),
        (
            new_product(json!({"location": {"latitude": 0, "longitude": 181}})),
            "location.longitude",
        ),
        (new_product(json!({"weight": 3})), "weight"),
    ];
    for (body, field) in product_cases {
        let answer = app
            .post_as("/api/v1/marketplace/vendor/products", &store.owner, &body)
            .await;
        assert_invalid_field(answer, field).await;
    }
    let mut missing = new_product(json!({}));
    missing.as_object_mut().unwrap().remove("price");
    let answer = app
        .post_as(
            "/api/v1/marketplace/vendor/products",
            &store.owner,
            &missing,
        )
        .await;
    assert_invalid_field(answer, "price").await;
    let patch_cases = [
        (json!({"stock": 2_000_000}), "stock"),
        (json!({"price": -5}), "price"),
        (json!({"price": "5"}), "price"),
        (json!({"status": "gone"}), "status"),
        (json!({"images": ["https://"]}), "images"),
        (json!({"vendor_id": store.org_id}), "vendor_id"),
    ];
    for (body, field) in patch_cases {
        let answer = patch_as(&market, &product_path, &store.owner, &body).await;
        assert_invalid_field(answer, field).await;
    }
    let unchanged = json(app.get_as(&product_path, &store.owner).await).await;
    assert_eq!(unchanged["data"]["price"], 1_200);
    assert_eq!(unchanged["data"]["stock"], 9);

    let line_cases = [
        (json!({"product_id": product, "quantity": 0}), "quantity"),
        (json!({"product_id": product, "quantity": 1001}), "quantity"),
        (json!({"product_id": product, "quantity": "2"}), "quantity"),
        (json!({"product_id": product}), "quantity"),
        (json!({"product_id": 12, "quantity": 1}), "product_id"),
        (
            json!({"product_id": product, "quantity": 1, "gift": true}),
            "gift",
        ),
    ];
    for (body, field) in line_cases {
        let answer = app
            .post_as("/api/v1/marketplace/cart/lines", &buyer, &body)
            .await;
        assert_invalid_field(answer, field).await;
    }
    for (body, field) in [
        (json!({"quantity": 0}), "quantity"),
        (json!({"quantity": 1001}), "quantity"),
        (json!({"quantity": null}), "quantity"),
        (json!({"quantity": 1, "product_id": product}), "product_id"),
    ] {
        assert_invalid_field(patch_as(&market, &line_path, &buyer, &body).await, field).await;
    }
    for (body, field) in [
        (json!({"provider": "paypal"}), "provider"),
        (json!({}), "provider"),
        (json!({"provider": "stripe", "hosted": "yes"}), "hosted"),
        (json!({"provider": "stripe", "coupon": "FREE"}), "coupon"),
    ] {
        let answer = checkout_body(&market, &buyer, &format!("bad-{field}"), &body).await;
        assert_invalid_field(answer, field).await;
    }
    let cart = json(app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"].as_array().unwrap().len(), 1, "kept");

    for (body, field) in [
        (json!({"status": "teleported"}), "status"),
        (json!({}), "status"),
        (
            json!({"status": "shipped", "tracking_reference": ""}),
            "tracking_reference",
        ),
        (
            json!({"status": "shipped", "tracking_reference": 42}),
            "tracking_reference",
        ),
        (
            json!({"status": "cancelled", "reason": "x".repeat(501)}),
            "reason",
        ),
        (json!({"status": "processing", "notify": false}), "notify"),
    ] {
        let answer = app.post_as(&status_path, &store.owner, &body).await;
        assert_invalid_field(answer, field).await;
    }
    let part_now = json(
        app.get_as(
            &format!("/api/v1/marketplace/vendor/orders/{part}"),
            &store.owner,
        )
        .await,
    )
    .await;
    assert_eq!(part_now["data"]["status"], "confirmed");

    for (body, field) in [
        (json!({"rating": "five"}), "rating"),
        (json!({"rating": 4.5}), "rating"),
        (json!({"text": "great"}), "rating"),
        (json!({"rating": 0}), "rating"),
        (json!({"rating": 6}), "rating"),
        (json!({"rating": 5, "text": "x".repeat(2001)}), "text"),
        (json!({"rating": 5, "stars": 5}), "stars"),
    ] {
        let answer = app.post_as(&review_path, &buyer, &body).await;
        assert_invalid_field(answer, field).await;
    }
    market.deliver(&store, &part).await;
    let review = app
        .post_as(&review_path, &buyer, &json!({"rating": 3}))
        .await;
    assert_eq!(review.status(), 201);
    let review_id = json(review).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply_path = format!("/api/v1/marketplace/vendor/reviews/{review_id}/reply");
    for (body, field) in [
        (json!({}), "text"),
        (json!({"text": ""}), "text"),
        (json!({"text": "  "}), "text"),
        (json!({"text": 5}), "text"),
        (json!({"text": "x".repeat(2001)}), "text"),
        (json!({"text": "Thanks", "pin": true}), "pin"),
    ] {
        let answer = app.post_as(&reply_path, &store.owner, &body).await;
        assert_invalid_field(answer, field).await;
    }
    for (body, field) in [
        (json!({}), "reason"),
        (json!({"reason": ""}), "reason"),
        (json!({"reason": 9}), "reason"),
        (json!({"reason": "x".repeat(501)}), "reason"),
        (json!({"reason": "spam", "until": "never"}), "until"),
    ] {
        let answer = app.post_as(&suspend_path, &market.operator, &body).await;
        assert_invalid_field(answer, field).await;
    }
    let own = json(app.get_as("/api/v1/marketplace/vendor", &store.owner).await).await;
    assert_eq!(own["data"]["status"], "approved", "no suspension happened");

    // The catalog's filters.
    for (query, field) in [
        (vec![("min_price", "-1")], "min_price"),
        (vec![("max_price", "-1")], "max_price"),
        (vec![("currency", "usd")], "currency"),
        (vec![("category", "Not A Slug")], "category"),
        (vec![("vendor", "x")], "vendor"),
        (vec![("q", "!!!")], "q"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "101")], "limit"),
    ] {
        assert_invalid_field(catalog_answer(&market, &query).await, field).await;
    }
    // A filter of the wrong type: 422 whose message names it (the query
    // extractor reports the field as `query`).
    for (name, value) in [
        ("latitude", "abc"),
        ("min_price", "ten"),
        ("radius_km", "far"),
    ] {
        let body = assert_error(
            catalog_answer(&market, &[(name, value)]).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{body}"
        );
    }
    let long = "word ".repeat(41);
    assert_invalid_field(catalog_answer(&market, &[("q", long.as_str())]).await, "q").await;

    // Unknown ids: 404.
    for path in [
        "/api/v1/marketplace/products/not-a-uuid".to_string(),
        format!("/api/v1/marketplace/products/{unknown}"),
        format!("/api/v1/marketplace/products/{unknown}/reviews"),
        "/api/v1/marketplace/products/not-a-uuid/reviews".to_string(),
        "/api/v1/marketplace/stores/no-such-store".to_string(),
    ] {
        assert_error(app.get(&path).await, 404, "NOT_FOUND").await;
    }
    for path in [
        format!("/api/v1/marketplace/vendor/products/{unknown}"),
        "/api/v1/marketplace/vendor/products/not-a-uuid".to_string(),
        format!("/api/v1/marketplace/vendor/orders/{unknown}"),
        "/api/v1/marketplace/vendor/orders/42".to_string(),
    ] {
        assert_error(app.get_as(&path, &store.owner).await, 404, "NOT_FOUND").await;
    }
    for path in [
        format!("/api/v1/marketplace/orders/{unknown}"),
        "/api/v1/marketplace/orders/not-a-uuid".to_string(),
    ] {
        assert_error(app.get_as(&path, &buyer).await, 404, "NOT_FOUND").await;
    }
    let cases: Vec<(Method, String, &str, Value)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/marketplace/vendor/products/{unknown}"),
            &store.owner,
            json!({"stock": 1}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/marketplace/cart/lines/{unknown}"),
            &buyer,
            json!({"quantity": 1}),
        ),
        (
            Method::DELETE,
            "/api/v1/marketplace/cart/lines/not-a-uuid".into(),
            &buyer,
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/marketplace/cart/lines".into(),
            &buyer,
            json!({"product_id": unknown, "quantity": 1}),
        ),
        (
            Method::POST,
            "/api/v1/marketplace/cart/lines".into(),
            &buyer,
            json!({"product_id": "not-a-uuid", "quantity": 1}),
        ),
        (
            Method::POST,
            format!("/api/v1/marketplace/vendor/orders/{unknown}/status"),
            &store.owner,
            json!({"status": "processing"}),
        ),
        (
            Method::POST,
            format!("/api/v1/marketplace/orders/{order_id}/items/{unknown}/review"),
            &buyer,
            json!({"rating": 5}),
        ),
        (
            Method::POST,
            format!("/api/v1/marketplace/orders/{unknown}/cancel"),
            &buyer,
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/marketplace/vendor/reviews/{unknown}/reply"),
            &store.owner,
            json!({"text": "Thanks"}),
        ),
        (
            Method::POST,
            "/api/v1/marketplace/vendor/reviews/not-a-uuid/reply".into(),
            &store.owner,
            json!({"text": "Thanks"}),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/marketplace/vendors/{unknown}/approve"),
            &market.operator,
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/admin/marketplace/vendors/not-a-uuid/suspend".into(),
            &market.operator,
            json!({"reason": "spam"}),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/marketplace/payouts/{unknown}/retry"),
            &market.operator,
            json!({}),
        ),
    ];
    for (method, path, token, body) in cases {
        let answer = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{method} {path}");
        assert_error(answer, 404, "NOT_FOUND").await;
    }

    // Signed out: 401 on the buyer's, the store's and the operator's routes.
    let signed_out: Vec<(Method, String)> = vec![
        (Method::GET, "/api/v1/marketplace/cart".into()),
        (Method::POST, "/api/v1/marketplace/cart/lines".into()),
        (Method::PATCH, line_path.clone()),
        (Method::DELETE, line_path.clone()),
        (Method::POST, "/api/v1/marketplace/checkout".into()),
        (Method::GET, "/api/v1/marketplace/orders".into()),
        (
            Method::GET,
            format!("/api/v1/marketplace/orders/{order_id}"),
        ),
        (
            Method::POST,
            format!("/api/v1/marketplace/orders/{order_id}/cancel"),
        ),
        (Method::POST, review_path.clone()),
        (Method::GET, "/api/v1/marketplace/vendor".into()),
        (Method::POST, "/api/v1/marketplace/vendor".into()),
        (Method::PATCH, "/api/v1/marketplace/vendor".into()),
        (Method::GET, "/api/v1/marketplace/vendor/products".into()),
        (Method::POST, "/api/v1/marketplace/vendor/products".into()),
        (Method::PATCH, product_path.clone()),
        (Method::GET, "/api/v1/marketplace/vendor/orders".into()),
        (Method::POST, status_path.clone()),
        (Method::GET, "/api/v1/marketplace/vendor/reviews".into()),
        (Method::POST, reply_path.clone()),
        (Method::GET, "/api/v1/marketplace/vendor/ledger".into()),
        (Method::GET, "/api/v1/marketplace/vendor/payouts".into()),
        (Method::GET, "/api/v1/admin/marketplace/vendors".into()),
        (Method::POST, suspend_path.clone()),
        (Method::GET, "/api/v1/admin/marketplace/figures".into()),
    ];
    for (method, path) in signed_out {
        for token in [None, Some("not-a-token")] {
            let mut request = app
                .client
                .request(method.clone(), app.url(&path))
                .header("idempotency-key", "signed-out")
                .json(&json!({}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 401, "{method} {path} {token:?}");
            assert_error(answer, 401, "UNAUTHORIZED").await;
        }
    }
    // Nothing of the above changed the store's product or the buyer's cart.
    let unchanged = json(app.get_as(&product_path, &store.owner).await).await;
    assert_eq!(unchanged["data"]["title"], "Plain Mug");
    let cart = json(app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(cart["data"]["lines"][0]["quantity"], 1);
}

// ---- 7. events -------------------------------------------------------------------------

/// The store's events of `event_type`, oldest first.
async fn store_events(market: &Market, store: &Store, event_type: &str) -> Vec<Value> {
    let answer = market
        .app
        .get_as(
            &format!("/api/v1/events?limit=100&type={event_type}"),
            &store.owner,
        )
        .await;
    assert_eq!(answer.status(), 200);
    let mut events = json(answer).await["data"].as_array().unwrap().clone();
    events.reverse();
    events
}

async fn a_store_sees_its_own_order_events_only(backend: Backend) {
    let market = Market::start(backend).await;
    let alpha = market.store("alpha", None).await;
    let beta = market.store("beta", None).await;
    let kite = market
        .product(&alpha, "Paper Kite", 1_500, 9, json!({}))
        .await;
    let yoyo = market
        .product(&beta, "Wooden Yoyo", 700, 9, json!({}))
        .await;
    let buyer = market.buyer("toys-buyer@example.com").await;
    // One order of both stores, one of alpha's alone.
    let both = paid_order(&market, &buyer, &[(&kite, 2), (&yoyo, 1)], "toys-1").await;
    let alone = paid_order(&market, &buyer, &[(&kite, 1)], "toys-2").await;
    let both_alpha = part_of(&both, &alpha);
    let both_beta = part_of(&both, &beta);
    let alone_alpha = part_of(&alone, &alpha);

    let parts = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                e["payload"]["vendor_order_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // Created at checkout, paid by the webhook's job: wait for the last.
    let alpha_paid = eventually(
        "alpha's marketplace.order.paid events",
        Duration::from_secs(10),
        async || {
            let events = store_events(&market, &alpha, "marketplace.order.paid").await;
            (events.len() >= 2).then_some(events)
        },
    )
    .await;
    assert_eq!(
        parts(&alpha_paid),
        [both_alpha.as_str(), alone_alpha.as_str()]
    );
    let alpha_created = store_events(&market, &alpha, "marketplace.order.created").await;
    assert_eq!(
        parts(&alpha_created),
        [both_alpha.as_str(), alone_alpha.as_str()]
    );
    let first = &alpha_created[0]["payload"];
    assert_eq!(first["organization_id"], alpha.org_id.as_str());
    assert_eq!(first["order_id"], both["id"]);
    assert_eq!(first["subtotal"], 3_000);
    assert_eq!(first["fee"], 300);
    assert_eq!(first["earnings"], 2_700);
    assert_eq!(first["currency"], "USD");
    assert_eq!(first["units"], 2);
    assert_eq!(alpha_paid[0]["payload"]["subtotal"], 3_000);
    assert_eq!(alpha_paid[1]["payload"]["order_id"], alone["id"]);

    // Beta: its part of the shared order, nothing of alpha's own order.
    let beta_paid = store_events(&market, &beta, "marketplace.order.paid").await;
    assert_eq!(parts(&beta_paid), [both_beta.as_str()]);
    let beta_created = store_events(&market, &beta, "marketplace.order.created").await;
    assert_eq!(parts(&beta_created), [both_beta.as_str()]);
    assert_eq!(
        beta_created[0]["payload"]["organization_id"],
        beta.org_id.as_str()
    );
    assert_eq!(beta_created[0]["payload"]["subtotal"], 700);
    assert_eq!(beta_created[0]["payload"]["units"], 1);
    let everything = json(
        market
            .app
            .get_as("/api/v1/events?limit=100", &beta.owner)
            .await,
    )
    .await;
    for event in everything["data"].as_array().unwrap() {
        assert_ne!(event["payload"]["order_id"], alone["id"], "{event}");
        assert_ne!(
            event["payload"]["vendor_order_id"],
            both_alpha.as_str(),
            "{event}"
        );
        assert_ne!(
            event["payload"]["organization_id"],
            alpha.org_id.as_str(),
            "{event}"
        );
    }
    // The buyer's own organization sells nothing: no order events.
    let buyers = json(
        market
            .app
            .get_as(
                "/api/v1/events?limit=100&type=marketplace.order.created",
                &buyer,
            )
            .await,
    )
    .await;
    assert_eq!(buyers["data"], json!([]));
}
