//! The console's Marketplace pages: for buyers (`/marketplace…`), stores
//! (`/o/{organization_id}/store…`) and operators (`/operator/marketplace`).
//! Over HTTP on both backends — the storefront's search and its errors
//! next to their fields, a product added to the cart, the checkout sent
//! to the provider's hosted page once per form, the order confirmed by the
//! provider's webhook; a store that applies, is approved on the operator's
//! page, adds a product and moves its part of an order to delivered; the
//! buyer's review; each person seeing only what is theirs (another
//! buyer's order, another store's products and orders, the operator's page
//! and a member's limits answer 404 or "Not allowed"); CSRF on the forms —
//! and in a real browser (SQLite), a buyer's journey through two stores
//! and the Stripe stand-in's hosted page, then each store's own orders,
//! with screenshots of each step.

use serde_json::{json, Value};

use crate::backend_tests;
use crate::console::{Browser, Seen};
use crate::support::accounts::PASSWORD;
use crate::support::app::json;
use crate::support::eventually::eventually;
use crate::support::marketplace::{part_of, Market, Store};
use crate::support::Backend;

backend_tests!(
    a_buyer_finds_products_and_checks_out_on_the_hosted_page,
    storefront_and_cart_errors_sit_next_to_their_fields,
    a_store_applies_is_approved_and_fulfils_its_part,
    buyers_and_stores_reach_only_their_own,
    members_and_operators_see_what_their_role_allows,
    marketplace_forms_refuse_a_missing_csrf_token,
    the_storefront_pages_through_many_products,
    a_store_replies_to_its_reviews_and_a_member_only_reads_them,
    the_operator_sees_a_failed_payout_and_retries_it,
    with_the_marketplace_off_its_pages_routes_and_links_are_gone,
    a_store_opens_without_a_payout_account_on_a_default_install,
    payouts_wait_for_a_payout_account_then_go_out,
    the_operator_rejects_a_pending_store_with_a_reason_and_it_applies_again,
    an_order_whose_payment_never_started_is_not_paid_nor_a_sale,
    a_provider_that_is_down_is_a_plain_sentence_and_a_reference_to_buyers,
    the_product_and_checkout_forms_say_each_refusal_beside_its_field,
);

/// A signed-in console session of `email` (registered through the API).
async fn signed_in<'a>(market: &'a Market, email: &str) -> Browser<'a> {
    let browser = Browser::new(&market.app);
    let seen = browser.sign_in(email, PASSWORD).await;
    assert_eq!(seen.status, 303, "sign in {email}: {}", seen.body);
    browser
}

/// Two open stores, each with one product; returns them and the products.
async fn two_stores(market: &Market) -> (Store, Store, String, String) {
    let beans = market.store("beans", Some((6.4541, 3.3947))).await;
    let lamps = market.store("lamps", Some((51.5072, -0.1276))).await;
    let coffee = market
        .product(
            &beans,
            "Roasted Coffee Beans",
            1_234,
            20,
            json!({"description": "Arabica from the hills.\nRoasted weekly.", "categories": ["coffee"],
                   "location": {"latitude": 6.4541, "longitude": 3.3947, "label": "Lagos"}}),
        )
        .await;
    let lamp = market
        .product(
            &lamps,
            "Brass Desk Lamp",
            4_500,
            3,
            json!({"categories": ["lighting"],
                   "location": {"latitude": 51.5072, "longitude": -0.1276, "label": "London"}}),
        )
        .await;
    (beans, lamps, coffee, lamp)
}

/// Adds `product` to the signed-in buyer's cart on its page.
async fn add_on_page(browser: &Browser<'_>, product: &str, quantity: &str) -> Seen {
    let page = format!("/marketplace/products/{product}");
    browser
        .submit(&page, &format!("{page}/cart"), &[("quantity", quantity)])
        .await
}

/// The cart page's hidden checkout key.
fn checkout_key(seen: &Seen) -> String {
    let marker = "name=\"key\" value=\"";
    let start = seen.body.find(marker).expect("the checkout key") + marker.len();
    let end = seen.body[start..].find('"').expect("its end");
    seen.body[start..start + end].to_string()
}

/// The buyer's orders through the API, newest first.
async fn api_orders(market: &Market, token: &str) -> Vec<Value> {
    let response = market.app.get_as("/api/v1/marketplace/orders", token).await;
    assert_eq!(response.status(), 200);
    json(response).await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An order placed and paid through the API (PaymentIntent and webhook).
async fn paid_order(market: &Market, buyer: &str, products: &[&str], key: &str) -> Value {
    for product in products {
        let added = market.add(buyer, product, 1).await;
        assert_eq!(added.status(), 201, "{}", json(added).await);
    }
    let order = market.checked_out(buyer, key).await;
    assert_eq!(market.pay(&order).await.status(), 200);
    let id = order["id"].as_str().expect("the order's id");
    market.wait_for_order(buyer, id, "confirmed").await
}

// ---- the tests -----------------------------------------------------------------------

async fn a_buyer_finds_products_and_checks_out_on_the_hosted_page(backend: Backend) {
    let market = Market::start(backend).await;
    let (_beans, _lamps, coffee, lamp) = two_stores(&market).await;
    let token = market.buyer("ada@buyers.test").await;
    let ada = signed_in(&market, "ada@buyers.test").await;

    // The nav link, the storefront with both stores' products.
    let overview = ada.get("/").await;
    let home = ada.get(overview.location.as_deref().expect("home")).await;
    assert!(home.body.contains("href=\"/marketplace\""), "{}", home.body);
    let all = ada.get("/marketplace").await;
    assert_eq!(all.status, 200, "{}", all.body);
    for shown in [
        "Roasted Coffee Beans",
        "beans store",
        "12.34 USD",
        "Brass Desk Lamp",
        "lamps store",
        "45.00 USD",
        "Only 3 left",
        "No reviews yet",
    ] {
        assert!(all.body.contains(shown), "{shown}: {}", all.body);
    }
    let csp = all.csp.clone().expect("a CSP");
    assert!(csp.contains("img-src 'self' data: https:"), "{csp}");

    // Full-text, category, price and distance filters.
    let found = ada.get("/marketplace?q=coffee").await;
    assert!(found.body.contains("Roasted Coffee Beans"));
    assert!(!found.body.contains("Brass Desk Lamp"));
    let lighting = ada.get("/marketplace?category=lighting").await;
    assert!(lighting.body.contains("Brass Desk Lamp"));
    assert!(!lighting.body.contains("Roasted Coffee Beans"));
    let cheap = ada.get("/marketplace?max_price=20").await;
    assert!(cheap.body.contains("Roasted Coffee Beans"));
    assert!(!cheap.body.contains("Brass Desk Lamp"));
    let near = ada
        .get("/marketplace?latitude=51.5&longitude=-0.12&radius_km=50")
        .await;
    assert!(near.body.contains("Brass Desk Lamp"), "{}", near.body);
    assert!(near.body.contains("km away"));
    assert!(!near.body.contains("Roasted Coffee Beans"));
    let none = ada.get("/marketplace?q=submarine").await;
    assert!(none.body.contains("No product matches this search"));

    // The product's page: description, store, price; add to cart.
    let page = ada.get(&format!("/marketplace/products/{coffee}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Arabica from the hills."));
    assert!(page.body.contains("beans store"));
    assert!(page.body.contains("Add to cart"));
    assert!(
        page.body
            .contains("<a class=\"brand\" href=\"/\">Landlord</a>"),
        "the layout's product name is not the page's product"
    );
    let added = add_on_page(&ada, &coffee, "2").await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.location.as_deref(), Some("/marketplace/cart"));
    assert_eq!(add_on_page(&ada, &lamp, "1").await.status, 303);

    // The cart: both lines, the total; quantity changed, then checkout.
    let cart = ada.get("/marketplace/cart").await;
    assert_eq!(cart.status, 200, "{}", cart.body);
    assert!(cart.body.contains("Added to your cart."));
    assert!(!ada
        .get("/marketplace/cart")
        .await
        .body
        .contains("Added to your cart."));
    assert!(cart.body.contains("24.68 USD"), "2 × 12.34");
    assert!(cart.body.contains("69.68 USD"), "{}", cart.body);
    assert!(cart.body.contains("2 stores, one payment"));
    let csp = cart.csp.clone().expect("a CSP");
    assert!(
        csp.contains(&format!(
            "form-action 'self' https: {}",
            market.stand_in.url
        )),
        "the checkout may redirect to the configured provider: {csp}"
    );
    let lines = api_cart_lines(&market, &token).await;
    let coffee_line = lines
        .iter()
        .find(|l| l["product_id"] == coffee.as_str())
        .and_then(|l| l["id"].as_str())
        .expect("the coffee's line")
        .to_string();
    let changed = ada
        .post(
            &format!("/marketplace/cart/lines/{coffee_line}"),
            &[("csrf", &cart.csrf()), ("quantity", "3")],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let cart = ada.get("/marketplace/cart").await;
    assert!(cart.body.contains("82.02 USD"), "3 × 12.34 + 45.00");
    let key = checkout_key(&cart);
    let form = [
        ("csrf", cart.csrf()),
        ("provider", "stripe".to_string()),
        ("key", key.clone()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let checkout = ada.post("/marketplace/cart/checkout", &form).await;
    assert_eq!(checkout.status, 303, "{}", checkout.body);
    let hosted = checkout.location.clone().expect("the hosted page");
    assert!(
        hosted.starts_with(&format!("{}/checkout/pay/cs_", market.stand_in.url)),
        "{hosted}"
    );
    // The same form sent again: the same order, the same page.
    let again = ada.post("/marketplace/cart/checkout", &form).await;
    assert_eq!(again.status, 303, "{}", again.body);
    let orders = api_orders(&market, &token).await;
    assert_eq!(orders.len(), 1, "one order per form");
    let order_id = orders[0]["id"].as_str().expect("its id").to_string();
    assert!(
        again.location.as_deref() == Some(hosted.as_str())
            || again.location.as_deref() == Some(&format!("/marketplace/orders/{order_id}")),
        "{:?}",
        again.location
    );
    let session = market
        .stand_in
        .session(hosted.rsplit('/').next().expect("the session id"))
        .expect("the stand-in's session");
    assert_eq!(
        session.get("success_url").map(String::as_str),
        Some(format!("https://app.landlord.test/marketplace/orders/{order_id}?paid=1").as_str())
    );
    assert!(ada
        .get("/marketplace/cart")
        .await
        .body
        .contains("Your cart is empty"));

    // Unpaid: the order page offers to pay and to cancel.
    let page = ada.get(&format!("/marketplace/orders/{order_id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Awaiting payment"));
    // minijinja escapes the URL's slashes: `&#x2f;checkout&#x2f;pay&#x2f;cs_…`.
    let session_id = hosted.rsplit('/').next().expect("the session id");
    assert!(
        page.body.contains(&format!(
            "&#x2f;checkout&#x2f;pay&#x2f;{session_id}\">Pay 82.02 USD"
        )),
        "the Pay link: {}",
        page.body
    );
    assert!(page.body.contains("Cancel the order"));
    assert!(page.body.contains("beans store") && page.body.contains("lamps store"));
    let back = ada
        .get(&format!("/marketplace/orders/{order_id}?paid=1"))
        .await;
    assert!(back.body.contains("Payment received — confirming"));
    assert!(back.body.contains("http-equiv=\"refresh\""));

    // The buyer pays on the hosted page: confirmed by the webhook.
    let paid = market
        .app
        .client
        .post(&hosted)
        .send()
        .await
        .expect("the hosted page's Pay");
    assert_eq!(paid.status(), 303);
    market.wait_for_order(&token, &order_id, "confirmed").await;
    let confirmed = ada
        .get(&format!("/marketplace/orders/{order_id}?paid=1"))
        .await;
    assert!(
        confirmed.body.contains("Payment confirmed"),
        "{}",
        confirmed.body
    );
    assert!(!confirmed.body.contains("http-equiv=\"refresh\""));
    assert!(!confirmed.body.contains("Cancel the order"));
    let list = ada.get("/marketplace/orders").await;
    assert!(list.body.contains("82.02 USD"));
    assert!(list.body.contains("Confirmed"));
}

async fn api_cart_lines(market: &Market, token: &str) -> Vec<Value> {
    let response = market.app.get_as("/api/v1/marketplace/cart", token).await;
    assert_eq!(response.status(), 200);
    json(response).await["data"]["lines"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn storefront_and_cart_errors_sit_next_to_their_fields(backend: Backend) {
    let market = Market::start(backend).await;
    let (_beans, _lamps, coffee, lamp) = two_stores(&market).await;
    let token = market.buyer("bo@buyers.test").await;
    let bo = signed_in(&market, "bo@buyers.test").await;

    let bad = bo.get("/marketplace?min_price=cheap&q=lamp").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let error = bad.field_error("min_price").expect("beside the price");
    assert!(error.contains("amount"), "{error}");
    assert_eq!(bad.input_value("q").as_deref(), Some("lamp"));
    let half = bo.get("/marketplace?latitude=6.4&longitude=3.3").await;
    assert_eq!(half.status, 422, "{}", half.body);
    assert!(half.field_error("radius_km").is_some(), "{}", half.body);
    let far = bo
        .get("/marketplace?latitude=6.4&longitude=3.3&radius_km=5000")
        .await;
    assert!(far
        .field_error("radius_km")
        .expect("beside the radius")
        .contains("1000"));
    let words = bo.get("/marketplace?q=%21%21%21").await;
    assert!(words.field_error("q").is_some(), "{}", words.body);

    // A quantity that is not one, more than there is.
    let typed = add_on_page(&bo, &coffee, "lots").await;
    assert_eq!(typed.status, 422, "{}", typed.body);
    assert!(typed
        .field_error("quantity")
        .expect("beside the quantity")
        .contains("whole number"));
    let greedy = add_on_page(&bo, &lamp, "4").await;
    assert_eq!(greedy.status, 409, "{}", greedy.body);
    let error = greedy.field_error("quantity").expect("beside the quantity");
    assert!(error.contains("3 available"), "{error}");
    assert!(api_cart_lines(&market, &token).await.is_empty());

    // In the cart: a quantity beyond the stock, beside its line.
    assert_eq!(add_on_page(&bo, &lamp, "2").await.status, 303);
    let cart = bo.get("/marketplace/cart").await;
    let line = api_cart_lines(&market, &token).await[0]["id"]
        .as_str()
        .expect("the line")
        .to_string();
    let refused = bo
        .post(
            &format!("/marketplace/cart/lines/{line}"),
            &[("csrf", &cart.csrf()), ("quantity", "9")],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused
        .field_error(&format!("quantity-{line}"))
        .expect("beside the line")
        .contains("3 available"));
    // Checking out without choosing how to pay.
    let key = checkout_key(&cart);
    let refused = bo
        .post(
            "/marketplace/cart/checkout",
            &[("csrf", &cart.csrf()), ("provider", ""), ("key", &key)],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("provider").is_some());
    // Removing the line empties the cart.
    let removed = bo
        .post(
            &format!("/marketplace/cart/lines/{line}/remove"),
            &[("csrf", &cart.csrf())],
        )
        .await;
    assert_eq!(removed.status, 303);
    let empty = bo.get("/marketplace/cart").await;
    assert!(empty.body.contains("Your cart is empty"));
    let nothing = bo
        .post(
            "/marketplace/cart/checkout",
            &[
                ("csrf", &cart.csrf()),
                ("provider", "stripe"),
                ("key", "k-1"),
            ],
        )
        .await;
    assert_eq!(nothing.status, 422, "{}", nothing.body);
    assert!(
        nothing.body.contains("Your cart is empty."),
        "{}",
        nothing.body
    );
    assert!(api_orders(&market, &token).await.is_empty());

    // Paystack: its authorization page.
    assert_eq!(add_on_page(&bo, &coffee, "1").await.status, 303);
    let cart = bo.get("/marketplace/cart").await;
    assert!(cart.body.contains("Paystack (card, bank, mobile money)"));
    let key = checkout_key(&cart);
    let paystack = bo
        .post(
            "/marketplace/cart/checkout",
            &[
                ("csrf", &cart.csrf()),
                ("provider", "paystack"),
                ("key", &key),
            ],
        )
        .await;
    assert_eq!(paystack.status, 303, "{}", paystack.body);
    let location = paystack.location.clone().unwrap_or_default();
    assert!(
        location.starts_with("https://checkout.paystack.test/"),
        "{location}"
    );
    let orders = api_orders(&market, &token).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["payment"]["provider"], "paystack");
}

async fn a_store_applies_is_approved_and_fulfils_its_part(backend: Backend) {
    let market = Market::start(backend).await;
    let owner = Browser::new(&market.app);
    let overview = owner.sign_up("owner@teapots.test", "Teapots Ltd").await;
    let org = overview.trim_start_matches("/o/").to_string();
    let store = format!("/o/{org}/store");

    // The nav link; the apply form, its errors beside the fields.
    let home = owner.get(&overview).await;
    assert!(home.body.contains(&format!("href=\"{store}\"")));
    let apply = owner.get(&store).await;
    assert_eq!(apply.status, 200, "{}", apply.body);
    assert!(apply.body.contains("Apply to sell"));
    let fields = |slug: &'static str| {
        vec![
            ("store_name", "Teapots"),
            ("slug", slug),
            ("description", "Cast iron and porcelain."),
            ("latitude", "6.5"),
            ("longitude", "3.4"),
            ("location_label", "Ikeja"),
        ]
    };
    let bad = owner.submit(&store, &store, &fields("Tea Pots!")).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad
        .field_error("slug")
        .expect("beside the slug")
        .contains("lowercase"));
    assert_eq!(bad.input_value("store_name").as_deref(), Some("Teapots"));
    let applied = owner.submit(&store, &store, &fields("teapots")).await;
    assert_eq!(applied.status, 303, "{}", applied.body);
    let pending = owner.get(applied.location.as_deref().expect("back")).await;
    assert!(pending.body.contains("Application sent"));
    assert!(pending.body.contains("Waiting for approval"));
    assert!(pending.body.contains("10 %"), "the default fee");
    // Another store has the address: said beside it.
    let _beans = market.store("beans", None).await;
    let taken = owner.submit(&store, &store, &fields("beans")).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken
        .field_error("slug")
        .expect("beside the slug")
        .contains("Another store"));

    // A product: a bad price beside its field, then created.
    let products = format!("{store}/products");
    let product_fields = |price: &'static str| {
        vec![
            ("title", "Cast Iron Teapot"),
            ("slug", "cast-iron-teapot"),
            ("description", "Holds a litre."),
            ("price", price),
            ("currency", "USD"),
            ("stock", "5"),
            ("status", "active"),
            ("categories", "tea, kitchen"),
            ("images", "https://images.example.com/teapot.jpg"),
            ("latitude", ""),
            ("longitude", ""),
            ("location_label", ""),
        ]
    };
    let bad = owner
        .submit(&products, &products, &product_fields("12,345.678"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("price").is_some());
    assert_eq!(
        bad.input_value("title").as_deref(),
        Some("Cast Iron Teapot")
    );
    let created = owner
        .submit(&products, &products, &product_fields("39.90"))
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let product_page = created.location.clone().expect("the product's page");
    let product_id = product_page
        .trim_start_matches(&format!("{products}/"))
        .split('?')
        .next()
        .expect("its id")
        .to_string();
    let page = owner.get(&product_page).await;
    assert!(page.body.contains("Product created."));
    assert!(page.body.contains("39.90 USD"));
    assert!(page.body.contains("not listed until the store is approved"));
    let list = owner.get(&products).await;
    assert!(list.body.contains("Cast Iron Teapot") && list.body.contains("39.90 USD"));

    // Not listed before approval; the operator approves on their page.
    let token = market.buyer("cy@buyers.test").await;
    let cy = signed_in(&market, "cy@buyers.test").await;
    assert!(!cy
        .get("/marketplace")
        .await
        .body
        .contains("Cast Iron Teapot"));
    let operator = signed_in(&market, "operator@example.com").await;
    let page = operator.get("/operator/marketplace?status=pending").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Teapots") && page.body.contains("Waiting for approval"));
    let approved = operator
        .post(
            &format!("/operator/marketplace/vendors/{org}/approve"),
            &[("csrf", &page.csrf()), ("status", "pending")],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let back = operator
        .get(approved.location.as_deref().expect("back to the list"))
        .await;
    assert!(back.body.contains("Teapots is approved"), "{}", back.body);
    let listed = cy.get("/marketplace").await;
    assert!(listed.body.contains("Cast Iron Teapot"));
    assert!(
        listed
            .body
            .contains("src=\"https:&#x2f;&#x2f;images.example.com&#x2f;teapot.jpg\""),
        "the product's image: {}",
        listed.body
    );
    assert!(owner
        .get(&store)
        .await
        .body
        .contains("Open: your active products"));

    // Edit: the stock changes, the price stays.
    let edit = owner.get(&product_page).await;
    let mut form = product_fields("39.90");
    form.retain(|(k, _)| *k != "stock");
    form.push(("stock", "7"));
    let saved = owner.submit(&product_page, &product_page, &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(owner.get(&product_page).await.body.contains("7 available"));
    let bad = owner
        .post(
            &product_page,
            &[
                ("csrf", &edit.csrf()),
                ("title", "Cast Iron Teapot"),
                ("slug", "cast-iron-teapot"),
                ("price", "39.90"),
                ("currency", "usd"),
                ("stock", "7"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(
        bad.status, 303,
        "lower-case currency is taken upper-cased: {}",
        bad.body
    );

    // A buyer pays; the store sees its part and moves it to delivered.
    let order = paid_order(&market, &token, &[&product_id], "teapot-1").await;
    let teapots = Store {
        org_id: org.clone(),
        owner: String::new(),
        slug: "teapots".into(),
    };
    let part = part_of(&order, &teapots);
    let orders = owner.get(&format!("{store}/orders")).await;
    assert_eq!(orders.status, 200, "{}", orders.body);
    assert!(orders.body.contains("1 × Cast Iron Teapot"));
    assert!(orders.body.contains("Paid, to prepare"));
    let to_prepare = owner.get(&format!("{store}/orders?status=confirmed")).await;
    assert!(to_prepare.body.contains("1 × Cast Iron Teapot"));
    let shipped = owner.get(&format!("{store}/orders?status=shipped")).await;
    assert!(!shipped.body.contains("Cast Iron Teapot"));
    assert!(shipped.body.contains("No order with this status."));
    let page_path = format!("{store}/orders/{part}");
    let page = owner.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in [
        "39.90 USD",
        "Platform fee (10 %)",
        "3.99 USD",
        "35.91 USD",
        "Start processing",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    let status = format!("{page_path}/status");
    let moved = owner
        .post(&status, &[("csrf", &page.csrf()), ("status", "processing")])
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    let page = owner.get(&page_path).await;
    assert!(page.body.contains("Marked processing") || page.body.contains("Mark shipped"));
    let refused = owner
        .post(
            &status,
            &[
                ("csrf", &page.csrf()),
                ("status", "shipped"),
                ("tracking_reference", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("tracking_reference").is_some());
    let moved = owner
        .post(
            &status,
            &[
                ("csrf", &page.csrf()),
                ("status", "shipped"),
                ("tracking_reference", "DHL-42"),
            ],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    let wrong = owner
        .post(&status, &[("csrf", &page.csrf()), ("status", "processing")])
        .await;
    assert_eq!(wrong.status, 409, "{}", wrong.body);
    assert!(
        wrong.body.contains("cannot become processing"),
        "{}",
        wrong.body
    );
    let moved = owner
        .post(&status, &[("csrf", &page.csrf()), ("status", "delivered")])
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);

    // The buyer sees the tracking, and reviews the delivered item.
    let order_id = order["id"].as_str().expect("the order's id");
    let seen = cy.get(&format!("/marketplace/orders/{order_id}")).await;
    assert!(seen.body.contains("DHL-42") && seen.body.contains("Delivered"));
    assert!(seen.body.contains("Review Cast Iron Teapot"));
    let item = order["items"][0]["id"].as_str().expect("the item");
    let review = format!("/marketplace/orders/{order_id}/items/{item}/review");
    let refused = cy
        .post(
            &review,
            &[("csrf", &seen.csrf()), ("rating", ""), ("text", "Great")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error(&format!("rating-{item}")).is_some());
    assert!(refused.body.contains("Great"), "what was typed stays");
    let reviewed = cy
        .post(
            &review,
            &[
                ("csrf", &seen.csrf()),
                ("rating", "5"),
                ("text", "Pours well."),
            ],
        )
        .await;
    assert_eq!(reviewed.status, 303, "{}", reviewed.body);
    let product = cy.get(&format!("/marketplace/products/{product_id}")).await;
    assert!(product.body.contains("Pours well."));
    assert!(product.body.contains("5.0 · 1 review"));

    // The store's earnings.
    let earnings = owner.get(&format!("{store}/earnings")).await;
    assert_eq!(earnings.status, 200, "{}", earnings.body);
    assert!(earnings.body.contains("35.91 USD"), "{}", earnings.body);
}

async fn buyers_and_stores_reach_only_their_own(backend: Backend) {
    let market = Market::start(backend).await;
    let (beans, lamps, coffee, lamp) = two_stores(&market).await;
    let ada_token = market.buyer("ada@own.test").await;
    let order = paid_order(&market, &ada_token, &[&coffee, &lamp], "own-1").await;
    let order_id = order["id"].as_str().expect("its id").to_string();

    // Another buyer: Ada's order is a missing page, its forms too.
    let _eve_token = market.buyer("eve@own.test").await;
    let eve = signed_in(&market, "eve@own.test").await;
    let seen = eve.get(&format!("/marketplace/orders/{order_id}")).await;
    assert_eq!(seen.status, 404, "{}", seen.body);
    assert!(seen.body.contains("Page not found"));
    assert!(!seen.body.contains("Roasted Coffee Beans"));
    let csrf = eve.get("/marketplace/cart").await.csrf();
    let cancel = eve
        .post(
            &format!("/marketplace/orders/{order_id}/cancel"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(cancel.status, 404, "{}", cancel.body);
    let item = order["items"][0]["id"].as_str().expect("an item");
    let review = eve
        .post(
            &format!("/marketplace/orders/{order_id}/items/{item}/review"),
            &[("csrf", &csrf), ("rating", "1")],
        )
        .await;
    assert_eq!(review.status, 404, "{}", review.body);
    assert!(!eve
        .get("/marketplace/orders")
        .await
        .body
        .contains(&order_id));
    assert_eq!(eve.get("/marketplace/orders/not-an-id").await.status, 404);
    assert_eq!(eve.get("/marketplace/products/not-an-id").await.status, 404);

    // Each store sees its own part only.
    let beans_owner = signed_in(&market, "beans-owner@example.com").await;
    let beans_part = part_of(&order, &beans);
    let lamps_part = part_of(&order, &lamps);
    let mine = beans_owner
        .get(&format!("/o/{}/store/orders", beans.org_id))
        .await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.body.contains("Roasted Coffee Beans"));
    assert!(!mine.body.contains("Brass Desk Lamp"));
    assert!(mine.body.contains(&beans_part));
    let theirs = beans_owner
        .get(&format!("/o/{}/store/orders/{lamps_part}", beans.org_id))
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let csrf = mine.csrf();
    let moved = beans_owner
        .post(
            &format!("/o/{}/store/orders/{lamps_part}/status", beans.org_id),
            &[("csrf", &csrf), ("status", "processing")],
        )
        .await;
    assert_eq!(moved.status, 404, "{}", moved.body);
    let product = beans_owner
        .get(&format!("/o/{}/store/products/{lamp}", beans.org_id))
        .await;
    assert_eq!(product.status, 404, "{}", product.body);
    let edit = beans_owner
        .post(
            &format!("/o/{}/store/products/{lamp}", beans.org_id),
            &[
                ("csrf", &csrf),
                ("title", "Mine now"),
                ("price", "1"),
                ("stock", "1"),
            ],
        )
        .await;
    assert_eq!(edit.status, 404, "{}", edit.body);
    // The other store's pages are not hers at all.
    for path in ["store", "store/products", "store/orders", "store/earnings"] {
        let seen = beans_owner
            .get(&format!("/o/{}/{path}", lamps.org_id))
            .await;
        assert_eq!(seen.status, 404, "{path}: {}", seen.body);
    }
    let unchanged = market.order(&ada_token, &order_id).await;
    assert!(unchanged["vendor_orders"]
        .as_array()
        .expect("parts")
        .iter()
        .all(|p| p["status"] == "confirmed"));
    let stored: String = sqlx::query_scalar("SELECT title FROM marketplace_products WHERE id = $1")
        .bind(&lamp)
        .fetch_one(market.app.db.pool())
        .await
        .expect("the lamp");
    assert_eq!(stored, "Brass Desk Lamp");
}

async fn members_and_operators_see_what_their_role_allows(backend: Backend) {
    let market = Market::start(backend).await;
    let (beans, _lamps, coffee, _lamp) = two_stores(&market).await;
    let _member_token = market.buyer("mo@beans.test").await;
    let member_id = market.app.user_id("mo@beans.test").await;
    market
        .app
        .add_membership(&beans.org_id, &member_id, "member")
        .await;
    let mo = signed_in(&market, "mo@beans.test").await;
    let store = format!("/o/{}/store", beans.org_id);

    // A member sees the store and its products and orders, not the
    // settings nor the money.
    let page = mo.get(&store).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Owners and admins of"));
    assert!(!page.body.contains("Save the store"));
    assert!(!page.body.contains(&format!("{store}/earnings\"")));
    let refused = mo
        .post(
            &store,
            &[
                ("csrf", &page.csrf()),
                ("store_name", "Mine"),
                ("slug", "mine"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Not allowed"));
    assert_eq!(mo.get(&format!("{store}/earnings")).await.status, 403);
    assert_eq!(mo.get(&format!("{store}/products")).await.status, 200);
    assert_eq!(mo.get(&format!("{store}/orders")).await.status, 200);

    // Nobody but the operator has the operator's page.
    for person in [&mo, &signed_in(&market, "beans-owner@example.com").await] {
        let seen = person.get("/operator/marketplace").await;
        assert_eq!(seen.status, 404, "{}", seen.body);
        let csrf = person.get("/marketplace").await.csrf();
        let forged = person
            .post(
                &format!("/operator/marketplace/vendors/{}/suspend", beans.org_id),
                &[("csrf", &csrf), ("reason", "mine")],
            )
            .await;
        assert_eq!(forged.status, 404, "{}", forged.body);
    }

    // The operator: figures, then a suspension needs its reason.
    let token = market.buyer("di@buyers.test").await;
    paid_order(&market, &token, &[&coffee], "fig-1").await;
    let operator = signed_in(&market, "operator@example.com").await;
    let page = operator.get("/operator/marketplace").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("href=\"/operator/marketplace\""),
        "the operator nav"
    );
    assert!(
        page.body.contains("12.34 USD"),
        "gross volume: {}",
        page.body
    );
    assert!(page.body.contains("1.23 USD"), "fees");
    let suspend = format!("/operator/marketplace/vendors/{}/suspend", beans.org_id);
    let refused = operator
        .post(&suspend, &[("csrf", &page.csrf()), ("reason", " ")])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused
        .field_error(&format!("reason-{}", beans.org_id))
        .is_some());
    let suspended = operator
        .post(
            &suspend,
            &[
                ("csrf", &page.csrf()),
                ("reason", "Counterfeit beans reported"),
            ],
        )
        .await;
    assert_eq!(suspended.status, 303, "{}", suspended.body);
    let shown = mo.get(&store).await;
    assert!(
        shown.body.contains("Counterfeit beans reported"),
        "{}",
        shown.body
    );
    let di = signed_in(&market, "di@buyers.test").await;
    assert!(!di
        .get("/marketplace")
        .await
        .body
        .contains("Roasted Coffee Beans"));
    assert_eq!(
        di.get(&format!("/marketplace/products/{coffee}"))
            .await
            .status,
        404
    );
    let missing = operator
        .post(
            "/operator/marketplace/vendors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/approve",
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(missing.status, 404);
}

async fn marketplace_forms_refuse_a_missing_csrf_token(backend: Backend) {
    let market = Market::start(backend).await;
    let (beans, _lamps, coffee, _lamp) = two_stores(&market).await;
    let token = market.buyer("fay@buyers.test").await;
    let fay = signed_in(&market, "fay@buyers.test").await;
    let owner = signed_in(&market, "beans-owner@example.com").await;
    let operator = signed_in(&market, "operator@example.com").await;
    let wrong = "0".repeat(64);
    for (who, path, form) in [
        (
            &fay,
            format!("/marketplace/products/{coffee}/cart"),
            vec![("quantity", "1")],
        ),
        (
            &fay,
            "/marketplace/cart/checkout".to_string(),
            vec![("provider", "stripe"), ("key", "forged-1")],
        ),
        (
            &owner,
            format!("/o/{}/store", beans.org_id),
            vec![("store_name", "Forged")],
        ),
        (
            &owner,
            format!("/o/{}/store/products", beans.org_id),
            vec![("title", "Forged"), ("price", "1")],
        ),
        (
            &operator,
            format!("/operator/marketplace/vendors/{}/suspend", beans.org_id),
            vec![("reason", "Forged")],
        ),
    ] {
        let forged = who.post(&path, &form).await;
        assert_eq!(forged.status, 403, "{path}: {}", forged.body);
        assert!(forged.body.contains("This form has expired"), "{path}");
        let mut fields = vec![("csrf", wrong.as_str())];
        fields.extend(form.iter().copied());
        assert_eq!(who.post(&path, &fields).await.status, 403, "{path}");
    }
    assert!(api_cart_lines(&market, &token).await.is_empty());
    assert!(api_orders(&market, &token).await.is_empty());
    let vendor = market
        .app
        .get_as("/api/v1/marketplace/vendor", &beans.owner)
        .await;
    let vendor = json(vendor).await;
    assert_eq!(vendor["data"]["status"], "approved");
    assert_eq!(vendor["data"]["store_name"], "beans store");
    // Signed out: the sign-in page.
    let anonymous = Browser::new(&market.app);
    for path in ["/marketplace", "/marketplace/cart", "/marketplace/orders"] {
        let seen = anonymous.get(path).await;
        assert_eq!(seen.status, 303, "{path}");
        assert_eq!(seen.location.as_deref(), Some("/sign-in"));
    }
}

async fn the_storefront_pages_through_many_products(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("many", None).await;
    for n in 1..=26 {
        market
            .product(&store, &format!("Postcard number {n}"), 150, 5, json!({}))
            .await;
    }
    market.buyer("gus@buyers.test").await;
    let gus = signed_in(&market, "gus@buyers.test").await;
    let first = gus.get("/marketplace?q=postcard").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("Postcard number 26"), "newest first");
    assert!(!first.body.contains("Postcard number 2<"));
    assert_eq!(first.body.matches("class=\"product-card\"").count(), 24);
    let marker = "href=\"";
    let more = first
        .body
        .split(marker)
        .find(|rest| rest.contains(">More products<"))
        .and_then(|rest| rest.split('"').next())
        .expect("the next page's link")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=");
    assert!(
        more.contains("q=postcard") && more.contains("cursor="),
        "{more}"
    );
    let second = gus.get(&more).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body.matches("class=\"product-card\"").count(), 2);
    assert!(second.body.contains("Postcard number 1<"));
    assert!(second.body.contains(">First page<"));
    assert!(!second.body.contains(">More products<"));
    let bad = gus.get("/marketplace?cursor=not-a-cursor").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("This page of results"), "{}", bad.body);
}

/// A delivered order of `products` and the buyer's review of its first
/// item (through the API); the review's id.
async fn reviewed(
    market: &Market,
    store: &Store,
    buyer: &str,
    product: &str,
    key: &str,
    text: &str,
) -> String {
    let order = paid_order(market, buyer, &[product], key).await;
    market.deliver(store, &part_of(&order, store)).await;
    let order_id = order["id"].as_str().expect("the order's id");
    let item = order["items"][0]["id"].as_str().expect("the item");
    let created = market
        .app
        .post_as(
            &format!("/api/v1/marketplace/orders/{order_id}/items/{item}/review"),
            buyer,
            &json!({"rating": 4, "text": text}),
        )
        .await;
    assert_eq!(created.status(), 201, "{}", json(created).await);
    json(created).await["data"]["id"]
        .as_str()
        .expect("the review's id")
        .to_string()
}

async fn a_store_replies_to_its_reviews_and_a_member_only_reads_them(backend: Backend) {
    let market = Market::start(backend).await;
    let (beans, lamps, coffee, lamp) = two_stores(&market).await;
    let buyer = market.buyer("rae@buyers.test").await;
    let review = reviewed(
        &market,
        &beans,
        &buyer,
        &coffee,
        "rev-1",
        "Fresh and fragrant.",
    )
    .await;
    let theirs = reviewed(&market, &lamps, &buyer, &lamp, "rev-2", "Bright enough.").await;
    let store = format!("/o/{}/store", beans.org_id);

    // The owner: the tab, the review with its product and rating, a form.
    let owner = signed_in(&market, "beans-owner@example.com").await;
    let page = owner.get(&format!("{store}/reviews")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let tab = format!("href=\"{store}/reviews\" aria-current=\"page\"");
    for shown in [
        tab.as_str(),
        "Roasted Coffee Beans",
        "4/5",
        "Fresh and fragrant.",
        "Publish the reply",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    assert!(
        !page.body.contains("Bright enough."),
        "another store's review"
    );
    let reply = format!("{store}/reviews/{review}/reply");
    let refused = owner
        .post(&reply, &[("csrf", &page.csrf()), ("text", "  ")])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.field_error(&format!("reply-{review}")).is_some(),
        "{}",
        refused.body
    );
    let long = "x".repeat(2001);
    let refused = owner
        .post(&reply, &[("csrf", &page.csrf()), ("text", &long)])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains(&long), "what was typed stays");
    let replied = owner
        .post(
            &reply,
            &[
                ("csrf", &page.csrf()),
                ("text", "Thank you, Rae: roasted on Monday."),
            ],
        )
        .await;
    assert_eq!(replied.status, 303, "{}", replied.body);
    assert_eq!(
        replied.location.as_deref(),
        Some(format!("{store}/reviews").as_str())
    );
    let page = owner.get(&format!("{store}/reviews")).await;
    assert!(page.body.contains("Reply published"), "{}", page.body);
    assert!(!owner
        .get(&format!("{store}/reviews"))
        .await
        .body
        .contains("Reply published"));
    assert!(page.body.contains("Thank you, Rae: roasted on Monday."));
    let rae = signed_in(&market, "rae@buyers.test").await;
    let product = rae.get(&format!("/marketplace/products/{coffee}")).await;
    assert_eq!(product.status, 200, "{}", product.body);
    assert!(
        product.body.contains("Thank you, Rae: roasted on Monday."),
        "{}",
        product.body
    );

    // Another store's review: the 404 page, its reply untouched.
    let other = owner
        .post(
            &format!("{store}/reviews/{theirs}/reply"),
            &[("csrf", &page.csrf()), ("text", "Mine now")],
        )
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert!(other.body.contains("Page not found"));
    let missing = owner
        .post(
            &format!("{store}/reviews/not-an-id/reply"),
            &[("csrf", &page.csrf()), ("text", "Hello")],
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    let lamp_page = rae.get(&format!("/marketplace/products/{lamp}")).await;
    assert!(!lamp_page.body.contains("Mine now"));

    // A member reads the reviews, without a form; a forged reply is refused.
    market.buyer("mo@beans.test").await;
    let member_id = market.app.user_id("mo@beans.test").await;
    market
        .app
        .add_membership(&beans.org_id, &member_id, "member")
        .await;
    let mo = signed_in(&market, "mo@beans.test").await;
    let seen = mo.get(&format!("{store}/reviews")).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("Fresh and fragrant."));
    assert!(seen.body.contains("Thank you, Rae: roasted on Monday."));
    assert!(!seen.body.contains("Publish the reply"), "{}", seen.body);
    assert!(!seen.body.contains("/reply\""));
    let csrf = mo.get("/marketplace").await.csrf();
    let forged = mo
        .post(&reply, &[("csrf", &csrf), ("text", "Member words")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("Not allowed"));
    let without_token = owner.post(&reply, &[("text", "No token")]).await;
    assert_eq!(without_token.status, 403, "{}", without_token.body);
    let product = rae.get(&format!("/marketplace/products/{coffee}")).await;
    assert!(!product.body.contains("Member words"));
    assert!(!product.body.contains("No token"));
    // Not another store's reviews page.
    assert_eq!(
        owner
            .get(&format!("/o/{}/store/reviews", lamps.org_id))
            .await
            .status,
        404
    );
}

async fn the_operator_sees_a_failed_payout_and_retries_it(backend: Backend) {
    let market = Market::start_with(backend, |c| c.marketplace.payout_hold_secs = 0).await;
    market.stand_in.state.lock().unwrap().transfers_decline = true;
    let (beans, _lamps, coffee, _lamp) = two_stores(&market).await;
    let buyer = market.buyer("pat@buyers.test").await;
    let order = paid_order(&market, &buyer, &[&coffee], "pay-1").await;
    market.deliver(&beans, &part_of(&order, &beans)).await;
    let operator = signed_in(&market, "operator@example.com").await;

    // The failed payout: on the main page's warning, the list, its error.
    let failed = eventually(
        "the payout to fail",
        std::time::Duration::from_secs(20),
        async || {
            let seen = operator
                .get("/operator/marketplace/payouts?status=failed")
                .await;
            seen.body.contains("No such destination").then_some(seen)
        },
    )
    .await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    for shown in [
        "beans store",
        "11.11 USD",
        "acct_beans",
        "class=\"failed\"",
        ">Retry<",
    ] {
        assert!(failed.body.contains(shown), "{shown}: {}", failed.body);
    }
    // The store reads a sentence; the provider's answer is the operator's.
    let owner = signed_in(&market, "beans-owner@example.com").await;
    let earnings = owner
        .get(&format!("/o/{}/store/earnings", beans.org_id))
        .await;
    assert!(
        earnings.body.contains("The transfer did not go through"),
        "{}",
        earnings.body
    );
    assert!(
        !earnings.body.contains("No such destination"),
        "{}",
        earnings.body
    );
    let main = operator.get("/operator/marketplace").await;
    assert!(main.body.contains("1 payout failed"), "{}", main.body);
    assert!(main
        .body
        .contains("href=\"/operator/marketplace/payouts?status=failed\""));
    let paid = operator
        .get("/operator/marketplace/payouts?status=paid")
        .await;
    assert!(
        paid.body.contains("No payout with this status."),
        "{}",
        paid.body
    );
    assert_eq!(
        operator
            .get("/operator/marketplace/payouts?status=lost")
            .await
            .status,
        404
    );

    // Retried once the switch is off: queued, then paid.
    market.stand_in.state.lock().unwrap().transfers_decline = false;
    let marker = "action=\"/operator/marketplace/payouts/";
    let start = failed.body.find(marker).expect("the retry form") + marker.len();
    let id = failed.body[start..]
        .split('/')
        .next()
        .expect("the payout id")
        .to_string();
    let retry = format!("/operator/marketplace/payouts/{id}/retry");
    let without_token = operator.post(&retry, &[("status", "failed")]).await;
    assert_eq!(without_token.status, 403, "{}", without_token.body);
    let retried = operator
        .post(&retry, &[("csrf", &failed.csrf()), ("status", "failed")])
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    let back = retried.location.clone().expect("back to the list");
    assert_eq!(back, "/operator/marketplace/payouts?status=failed");
    assert!(operator
        .get(&back)
        .await
        .body
        .contains("Payout queued again."));
    let paid = eventually(
        "the retried payout to be paid",
        std::time::Duration::from_secs(20),
        async || {
            let seen = operator
                .get("/operator/marketplace/payouts?status=paid")
                .await;
            seen.body.contains("11.11 USD").then_some(seen)
        },
    )
    .await;
    assert!(paid.body.contains("acct_beans"), "{}", paid.body);
    assert!(!paid.body.contains(">Retry<"));
    assert!(
        !paid.body.contains("No such destination"),
        "the error is gone"
    );
    assert!(!operator
        .get("/operator/marketplace")
        .await
        .body
        .contains("payout failed"));
    // A paid payout is not retried again: said on the page.
    let again = operator.post(&retry, &[("csrf", &failed.csrf())]).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again
            .body
            .to_lowercase()
            .contains("only a failed payout can be retried"),
        "{}",
        again.body
    );
    assert_eq!(market.stand_in.state.lock().unwrap().transfers.len(), 1);

    // Nobody but the operator: the refusal (404) page, the form refused.
    let owner = signed_in(&market, "beans-owner@example.com").await;
    let seen = owner.get("/operator/marketplace/payouts").await;
    assert_eq!(seen.status, 404, "{}", seen.body);
    assert!(!seen.body.contains("11.11 USD"));
    let csrf = owner.get("/marketplace").await.csrf();
    let forged = owner.post(&retry, &[("csrf", &csrf)]).await;
    assert_eq!(forged.status, 404, "{}", forged.body);
}

// ---- in a real browser ---------------------------------------------------------------

const BROWSER_TEST: &str =
    "console_marketplace::browser::a_buyer_pays_two_stores_and_each_store_sees_its_part";

mod browser {

    use serde_json::json;

    use super::BROWSER_TEST;
    use crate::support::accounts::PASSWORD;
    use crate::support::browser::{Browser, Viewport, PAGE_TIMEOUT};
    use crate::support::marketplace::Market;
    use crate::support::Backend;

    /// A free port on 127.0.0.1 (for a server whose `app_url` must name
    /// its own address: the provider sends the buyer back there).
    fn free_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    }

    async fn sign_in(browser: &Browser, market: &Market, email: &str) {
        browser.goto(&market.app, "/sign-in").await;
        browser.fill("Email", email).await;
        browser.fill("Password", PASSWORD).await;
        browser.click_button("Sign in").await;
        browser.wait_for_text("Requests this month").await;
    }

    async fn sign_out(browser: &Browser) {
        browser.sign_out().await;
        browser.wait_for_text("Sign in").await;
    }

    async fn click(browser: &Browser, selector: &str) {
        browser
            .element(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {selector}: {e}"));
    }

    /// A buyer searches the storefront, finds two stores' products, adds
    /// both to the cart, pays with Stripe on the stand-in's hosted page,
    /// comes back to the order and sees it confirmed; then each store's
    /// owner sees its own part of the order only. Light and dark, the
    /// storefront, the cart and the order also 375 px wide.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_buyer_pays_two_stores_and_each_store_sees_its_part() {
        let Some(browser) = Browser::start(BROWSER_TEST).await else {
            return;
        };
        let port = free_port();
        let market = Market::start_with(Backend::Sqlite, |c| {
            c.listen = format!("127.0.0.1:{port}");
            c.app_url = Some(format!("http://127.0.0.1:{port}"));
        })
        .await;
        let beans = market.store("beans", Some((6.4541, 3.3947))).await;
        let lamps = market.store("lamps", Some((51.5072, -0.1276))).await;
        let coffee = market
            .product(
                &beans,
                "Roasted Coffee Beans",
                1_234,
                20,
                json!({"description": "Arabica from the hills of Jos, roasted weekly. A fine gift.",
                       "categories": ["coffee", "gifts"],
                       "location": {"latitude": 6.4541, "longitude": 3.3947, "label": "Lagos"}}),
            )
            .await;
        let lamp = market
            .product(
                &lamps,
                "Brass Desk Lamp",
                4_500,
                3,
                json!({"description": "Solid brass, warm light. A fine gift for a reader.",
                       "categories": ["lighting", "gifts"],
                       "location": {"latitude": 51.5072, "longitude": -0.1276, "label": "London"}}),
            )
            .await;
        market
            .product(
                &beans,
                "Ceramic Pour-over Dripper",
                2_950,
                8,
                json!({"categories": ["coffee"]}),
            )
            .await;
        market.buyer("ada@browser-buyers.test").await;

        // The buyer signs in: her empty cart and orders; her own
        // organization's store page offers to apply (a bad slug said
        // beside it).
        sign_in(&browser, &market, "ada@browser-buyers.test").await;
        let own = browser.current_path().await;
        browser
            .visit(
                &market.app,
                "/marketplace/cart",
                "Your cart is empty",
                "cart-empty",
            )
            .await;
        browser
            .visit(
                &market.app,
                "/marketplace/orders",
                "No order yet",
                "orders-empty",
            )
            .await;
        browser.goto(&market.app, &format!("{own}/store")).await;
        browser.wait_for_text("Apply to sell").await;
        browser.fill("Store name", "Ada's Books").await;
        browser.fill("Slug", "Ada's Books").await;
        browser.click_button("Apply to sell").await;
        browser.wait_for_text("lowercase letters, digits").await;
        browser.screenshot_themes("apply-bad-slug").await;
        // Applying without a payout account; the account's refusal beside it.
        browser.fill("Slug", "ada-books").await;
        browser.click_button("Apply to sell").await;
        browser
            .wait_for_text("Payouts wait for a payout account")
            .await;
        browser.fill("Account", "RCP_wrong").await;
        browser.click_button("Add the payout account").await;
        browser.wait_for_text("account looks like acct_").await;
        browser
            .screenshot_themes("store-without-payout-account")
            .await;
        browser.goto(&market.app, &own).await;
        browser.wait_for_text("Requests this month").await;
        browser.click_link("Marketplace").await;
        browser.wait_for_path("/marketplace").await;
        browser.wait_for_text("Ceramic Pour-over Dripper").await;
        browser.wait_for_text("29.50 USD").await;
        browser.screenshot_themes("storefront").await;

        // A search finds both stores' products, not the third.
        browser.fill("Search", "gift").await;
        browser.click_button("Search").await;
        browser.wait_for_text("Brass Desk Lamp").await;
        browser.wait_for_text("Roasted Coffee Beans").await;
        browser.assert_no_text("Ceramic Pour-over Dripper").await;
        browser.wait_for_text("lamps store").await;
        browser.wait_for_text("beans store").await;
        browser.screenshot_themes("search").await;

        // The coffee: its page, two bags in the cart.
        click(
            &browser,
            &format!("a[href=\"/marketplace/products/{coffee}\"]"),
        )
        .await;
        browser.wait_for_text("Arabica from the hills of Jos").await;
        browser.wait_for_text("12.34 USD").await;
        browser.screenshot_themes("product").await;
        browser.fill("Quantity", "25").await;
        browser.click_button("Add to cart").await;
        browser.wait_for_text("has 20 available").await;
        browser.screenshot_themes("product-too-many").await;
        browser.fill("Quantity", "2").await;
        browser.click_button("Add to cart").await;
        browser.wait_for_text("Added to your cart.").await;

        // Back to the search: the lamp too.
        browser.goto(&market.app, "/marketplace?q=gift").await;
        click(
            &browser,
            &format!("a[href=\"/marketplace/products/{lamp}\"]"),
        )
        .await;
        browser.wait_for_text("Only 3 left").await;
        browser.click_button("Add to cart").await;
        browser.wait_for_text("Added to your cart.").await;
        browser.wait_for_text("69.68 USD").await;
        browser.wait_for_text("2 stores, one payment").await;
        browser.screenshot_themes("cart").await;
        browser.set_viewport(Viewport::Phone).await;
        browser.screenshot_themes("cart-phone").await;
        browser.goto(&market.app, "/marketplace?q=gift").await;
        browser.wait_for_text("Brass Desk Lamp").await;
        browser.screenshot_themes("search-phone").await;
        browser.set_viewport(Viewport::Desktop).await;

        // Checkout with Stripe: the stand-in's hosted page.
        browser.goto(&market.app, "/marketplace/cart").await;
        browser.wait_for_text("Pay with").await;
        browser.fill("Name", "Ada Obi").await;
        browser.fill("Address", "12 Marina Road").await;
        browser.fill("City", "Lagos").await;
        browser.fill("Country (two letters, e.g. NG)", "NG").await;
        browser.screenshot_themes("cart-ship-to").await;
        browser.click_button("Pay 69.68 USD").await;
        let stand_in = url::Url::parse(&market.stand_in.url).expect("the stand-in's URL");
        crate::support::eventually::eventually(
            "the browser on the hosted checkout page",
            PAGE_TIMEOUT,
            async || {
                let at = browser.current_url().await;
                (at.port() == stand_in.port() && at.path().starts_with("/checkout/pay/"))
                    .then_some(())
            },
        )
        .await;
        browser.wait_for_text("69.68").await;
        browser.screenshot("hosted-checkout").await;

        // Pay: back on the order page, confirmed once the webhook is in.
        click(&browser, "#pay").await;
        crate::support::eventually::eventually(
            "the browser back on the order page",
            PAGE_TIMEOUT,
            async || {
                let at = browser.current_url().await;
                (at.port() == Some(port) && at.path().starts_with("/marketplace/orders/"))
                    .then_some(())
            },
        )
        .await;
        let order_path = browser.current_path().await;
        browser.wait_for_text("Order ").await;
        browser.screenshot_themes("order-returned").await;
        browser.reload_until("Payment confirmed").await;
        browser.wait_for_text("Paid").await;
        browser.assert_no_text("Cancel the order").await;
        browser.screenshot_themes("order-confirmed").await;
        browser.set_viewport(Viewport::Phone).await;
        browser.screenshot_themes("order-confirmed-phone").await;
        browser.set_viewport(Viewport::Desktop).await;
        browser.click_link("← Your orders").await;
        browser.wait_for_text("69.68 USD").await;
        browser.wait_for_text("Confirmed").await;
        browser.screenshot_themes("orders").await;
        assert!(order_path.starts_with("/marketplace/orders/"));
        sign_out(&browser).await;

        // Each store's owner: its own part only.
        for (store, mine, theirs, earnings) in [
            (
                &beans,
                "Roasted Coffee Beans",
                "Brass Desk Lamp",
                "22.21 USD",
            ),
            (
                &lamps,
                "Brass Desk Lamp",
                "Roasted Coffee Beans",
                "40.50 USD",
            ),
        ] {
            sign_in(
                &browser,
                &market,
                &format!("{}-owner@example.com", store.slug),
            )
            .await;
            browser.click_link("Store").await;
            browser.wait_for_text("Open: your active products").await;
            browser.click_link("Orders").await;
            browser
                .wait_for_path(&format!("/o/{}/store/orders", store.org_id))
                .await;
            browser.wait_for_text(mine).await;
            browser.assert_no_text(theirs).await;
            browser.wait_for_text(earnings).await;
            browser
                .screenshot_themes(&format!("{}-orders", store.slug))
                .await;
            click(&browser, "table.store-orders tbody a").await;
            browser.wait_for_text("Items to send").await;
            browser.wait_for_text("Platform fee (10 %)").await;
            // Where to send them: the buyer's address.
            browser.wait_for_text("12 Marina Road").await;
            browser.assert_no_text(theirs).await;
            browser
                .screenshot_themes(&format!("{}-order", store.slug))
                .await;
            browser.click_button("Start processing").await;
            browser.wait_for_text("Marked processing.").await;
            browser
                .screenshot_themes(&format!("{}-order-processing", store.slug))
                .await;
            if store.slug == "beans" {
                // The store's other pages, as its owner sees them.
                let base = format!("/o/{}/store", store.org_id);
                browser
                    .visit(&market.app, &base, "Platform fee", "beans-store")
                    .await;
                browser
                    .visit(
                        &market.app,
                        &format!("{base}/products"),
                        "Ceramic Pour-over Dripper",
                        "beans-products",
                    )
                    .await;
                browser
                    .visit(
                        &market.app,
                        &format!("{base}/earnings"),
                        "22.21 USD",
                        "beans-earnings",
                    )
                    .await;
                browser
                    .visit(
                        &market.app,
                        &format!("{base}/reviews"),
                        "No review yet",
                        "beans-reviews",
                    )
                    .await;
                browser.set_viewport(Viewport::Phone).await;
                browser
                    .visit(
                        &market.app,
                        &format!("{base}/orders"),
                        "Roasted Coffee Beans",
                        "beans-orders-phone",
                    )
                    .await;
                browser.set_viewport(Viewport::Desktop).await;
            }
            sign_out(&browser).await;
        }

        // The operator's page: the stores and the figures.
        sign_in(&browser, &market, "operator@example.com").await;
        browser
            .visit(
                &market.app,
                "/operator/marketplace",
                "Money of paid orders",
                "operator-marketplace",
            )
            .await;
        browser.wait_for_text("69.68 USD").await;
        browser
            .visit(
                &market.app,
                "/operator/marketplace/payouts",
                "No payout yet",
                "operator-payouts",
            )
            .await;

        browser.close().await;
    }
}

/// `[marketplace] enabled = false`: the storefront, the store and the
/// operator's marketplace pages and the API routes answer 404, and no
/// navigation (the organization's, the person's, the operator's) links
/// to them; with it on, the same pages show the links.
async fn with_the_marketplace_off_its_pages_routes_and_links_are_gone(backend: Backend) {
    let app = crate::support::TestApp::spawn_with(backend, |c| c.marketplace.enabled = false).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("ada@market-off.test", "Ada's").await;
    let org = overview.trim_start_matches("/o/").to_string();
    let ada_id = app.user_id("ada@market-off.test").await;
    sqlx::query("UPDATE users SET platform_admin_at = $1 WHERE id = $2")
        .bind(1_i64)
        .bind(&ada_id)
        .execute(app.db.pool())
        .await
        .expect("make Ada an operator");
    let page = ada.get(&overview).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains(&format!("/o/{org}/store")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("href=\"/marketplace\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("marketplace.css"), "{}", page.body);
    let operator = ada.get("/operator").await;
    assert_eq!(operator.status, 200, "{}", operator.body);
    assert!(
        !operator.body.contains("/operator/marketplace"),
        "{}",
        operator.body
    );
    for path in [
        "/marketplace".to_string(),
        "/marketplace/cart".to_string(),
        format!("/o/{org}/store"),
        "/operator/marketplace".to_string(),
        "/static/marketplace.css".to_string(),
    ] {
        assert_eq!(ada.get(&path).await.status, 404, "{path}");
    }
    let api = app.get("/api/v1/marketplace/products").await;
    assert_eq!(api.status(), 404);

    let on = crate::support::TestApp::spawn(backend).await;
    let ada = Browser::new(&on);
    let overview = ada.sign_up("ada@market-on.test", "Ada's").await;
    let org = overview.trim_start_matches("/o/").to_string();
    let ada_id = on.user_id("ada@market-on.test").await;
    sqlx::query("UPDATE users SET platform_admin_at = $1 WHERE id = $2")
        .bind(1_i64)
        .bind(&ada_id)
        .execute(on.db.pool())
        .await
        .expect("make Ada an operator");
    let page = ada.get(&overview).await;
    assert!(
        page.body.contains(&format!("href=\"/o/{org}/store\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/marketplace\""), "{}", page.body);
    assert!(
        page.body.contains("href=\"/static/marketplace.css?v="),
        "{}",
        page.body
    );
    assert_eq!(ada.get("/static/marketplace.css").await.status, 200);
    let operator = ada.get("/operator").await;
    assert!(
        operator.body.contains("href=\"/operator/marketplace\""),
        "{}",
        operator.body
    );
    assert_eq!(ada.get("/marketplace").await.status, 200);
}

/// No payment provider configured (a default install): a store applies
/// and is approved without a payout account; every refusal of the apply
/// and payout forms sits next to its field; the page says that payouts
/// wait for an account and how to add one.
async fn a_store_opens_without_a_payout_account_on_a_default_install(backend: Backend) {
    let market = Market::start_with(backend, |c| {
        c.stripe_secret_key = None;
        c.stripe_webhook_secret = None;
        c.paystack_secret_key = None;
    })
    .await;
    let owner = Browser::new(&market.app);
    let overview = owner.sign_up("owner@kettles.test", "Kettles Ltd").await;
    let org = overview.trim_start_matches("/o/").to_string();
    let store = format!("/o/{org}/store");
    let apply = owner.get(&store).await;
    assert_eq!(apply.status, 200, "{}", apply.body);
    assert!(apply
        .body
        .contains("A payout account is not needed to apply"));
    let fields = |name: &'static str, slug: &'static str| {
        vec![
            ("store_name", name),
            ("slug", slug),
            ("description", ""),
            ("latitude", ""),
            ("longitude", ""),
            ("location_label", ""),
        ]
    };
    let bad = owner
        .submit(&store, &store, &fields("Kettles", "Kettles!"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad
        .field_error("slug")
        .expect("beside the slug")
        .contains("lowercase"));
    let bad = owner.submit(&store, &store, &fields(" ", "kettles")).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("store_name").is_some(), "{}", bad.body);
    let bad = owner
        .submit(
            &store,
            &store,
            &[
                ("store_name", "Kettles"),
                ("slug", "kettles"),
                ("latitude", "north"),
                ("longitude", "3"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("latitude").is_some(), "{}", bad.body);
    let first = market.store_without_payout("taken").await;
    let taken = owner
        .submit(&store, &store, &fields("Kettles", "taken"))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken
        .field_error("slug")
        .expect("beside the slug")
        .contains("Another store"));
    let applied = owner
        .submit(&store, &store, &fields("Kettles", "kettles"))
        .await;
    assert_eq!(applied.status, 303, "{}", applied.body);
    let page = owner.get(applied.location.as_deref().expect("back")).await;
    assert!(page.body.contains("Waiting for approval"), "{}", page.body);
    assert!(
        page.body.contains("Payouts wait for a payout account"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Add the payout account"));

    // The payout form: each refusal beside its field.
    let payout = format!("{store}/payout");
    let bad = owner
        .submit(
            &store,
            &payout,
            &[
                ("payout_provider", "stripe"),
                ("payout_account", "acct_kettles"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad
        .field_error("payout_provider")
        .expect("beside the provider")
        .contains("not configured"));
    let bad = owner
        .submit(
            &store,
            &payout,
            &[
                ("payout_provider", "stripe"),
                ("payout_account", "RCP_wrong"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad
        .field_error("payout_account")
        .expect("beside the account")
        .contains("acct_"));
    assert_eq!(
        bad.input_value("payout_account").as_deref(),
        Some("RCP_wrong")
    );
    let bad = owner
        .submit(
            &store,
            &payout,
            &[("payout_provider", "paypal"), ("payout_account", "acct_x")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("payout_provider").is_some(), "{}", bad.body);

    // The operator approves it as it is; the API says it has no account.
    let approved = market
        .app
        .post_as(
            &format!("/api/v1/admin/marketplace/vendors/{org}/approve"),
            &market.operator,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status(), 200, "{}", json(approved).await);
    let open = owner.get(&store).await;
    assert!(open.body.contains("Open: your active products are listed"));
    assert!(open.body.contains("Payouts wait for a payout account"));
    let answer = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor", &first.owner)
            .await,
    )
    .await;
    assert_eq!(answer["data"]["status"], "approved", "{answer}");
    assert!(answer["data"]["payout"].is_null(), "{answer}");
}

/// A store without a payout account sells; its payout waits (nothing
/// created, nothing failed) until it adds the account on its page, and
/// goes out with the next run.
async fn payouts_wait_for_a_payout_account_then_go_out(backend: Backend) {
    let market = Market::start_with(backend, |c| c.marketplace.payout_hold_secs = 0).await;
    let store = market.store_without_payout("clay").await;
    let product = market
        .product(&store, "Clay Pot", 2_000, 5, json!({}))
        .await;
    let buyer = market.buyer("clay-buyer@example.com").await;
    let order = paid_order(&market, &buyer, &[&product], "clay-1").await;
    market.deliver(&store, &part_of(&order, &store)).await;
    let run = market
        .app
        .post_as(
            "/api/v1/admin/marketplace/payouts/run",
            &market.operator,
            &json!({}),
        )
        .await;
    assert_eq!(run.status(), 200, "{}", json(run).await);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let payouts = |owner: String| {
        let app = &market.app;
        async move {
            json(
                app.get_as("/api/v1/marketplace/vendor/payouts", &owner)
                    .await,
            )
            .await["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    assert!(
        payouts(store.owner.clone()).await.is_empty(),
        "the payout waits"
    );
    let failed = json(
        market
            .app
            .get_as(
                "/api/v1/admin/marketplace/payouts?status=failed",
                &market.operator,
            )
            .await,
    )
    .await;
    assert_eq!(failed["data"].as_array().map(Vec::len), Some(0), "{failed}");

    // The store's pages say why and how; it adds the account on its page.
    let owner = signed_in(&market, "clay-owner@example.com").await;
    let page = format!("/o/{}/store", store.org_id);
    let earnings = owner.get(&format!("{page}/earnings")).await;
    assert!(
        earnings.body.contains("Payouts wait for a payout account"),
        "{}",
        earnings.body
    );
    let saved = owner
        .submit(
            &page,
            &format!("{page}/payout"),
            &[
                ("payout_provider", "stripe"),
                ("payout_account", "acct_clay"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let shown = owner.get(saved.location.as_deref().expect("back")).await;
    assert!(shown.body.contains("acct_clay"), "{}", shown.body);
    assert!(!shown.body.contains("Payouts wait for a payout account"));
    let paid = eventually(
        "the waiting payout to be paid",
        std::time::Duration::from_secs(20),
        async || {
            payouts(store.owner.clone())
                .await
                .into_iter()
                .find(|p| p["status"] == "paid")
        },
    )
    .await;
    assert_eq!(paid["account"], "acct_clay", "{paid}");
    assert_eq!(paid["amount"], 1_800, "{paid}");
}

/// A pending store rejected with a reason (required, said beside the
/// field): audited like an approval; its team reads the reason on its
/// page, changes the store and applies again.
async fn the_operator_rejects_a_pending_store_with_a_reason_and_it_applies_again(backend: Backend) {
    let market = Market::start(backend).await;
    let registered = market.app.register("owner@vases.test", "Vases Ltd").await;
    let owner_token = crate::support::accounts::token_of(&registered, "access_token");
    let org = crate::support::accounts::token_of(&registered["organization"], "id");
    let applied = market
        .app
        .post_as(
            "/api/v1/marketplace/vendor",
            &owner_token,
            &json!({"store_name": "Vases", "slug": "vases"}),
        )
        .await;
    assert_eq!(applied.status(), 201, "{}", json(applied).await);

    let operator = signed_in(&market, "operator@example.com").await;
    let page = operator.get("/operator/marketplace?status=pending").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains(&format!("/operator/marketplace/vendors/{org}/reject")));
    let reject = format!("/operator/marketplace/vendors/{org}/reject");
    let refused = operator
        .post(
            &reject,
            &[
                ("csrf", &page.csrf()),
                ("status", "pending"),
                ("reason", "  "),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused
        .field_error(&format!("reject-{org}"))
        .expect("beside the reason")
        .contains("Say why"));
    let rejected = operator
        .post(
            &reject,
            &[
                ("csrf", &page.csrf()),
                ("status", "pending"),
                ("reason", "Add a description of what you sell"),
            ],
        )
        .await;
    assert_eq!(rejected.status, 303, "{}", rejected.body);
    let back = operator
        .get(rejected.location.as_deref().expect("back"))
        .await;
    assert!(back.body.contains("Vases is rejected"), "{}", back.body);
    assert_eq!(
        market
            .app
            .count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'marketplace.vendor_rejected' \
                 AND target_id = $1 AND actor_user_id IS NOT NULL",
                &[&org],
            )
            .await,
        1
    );

    // The API: only a pending store is rejected; the reason is required.
    let api_reject = format!("/api/v1/admin/marketplace/vendors/{org}/reject");
    let again = market
        .app
        .post_as(&api_reject, &market.operator, &json!({"reason": "Again"}))
        .await;
    assert_eq!(again.status(), 409, "{}", json(again).await);
    let empty = market
        .app
        .post_as(&api_reject, &market.operator, &json!({"reason": ""}))
        .await;
    assert_eq!(empty.status(), 422, "{}", json(empty).await);
    let unknown = market
        .app
        .post_as(
            "/api/v1/admin/marketplace/vendors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/reject",
            &market.operator,
            &json!({"reason": "No"}),
        )
        .await;
    assert_eq!(unknown.status(), 404, "{}", json(unknown).await);
    let by_owner = market
        .app
        .post_as(&api_reject, &owner_token, &json!({"reason": "No"}))
        .await;
    assert_eq!(by_owner.status(), 403, "{}", json(by_owner).await);

    // The store's page: the reason, and the form to apply again.
    let owner = signed_in(&market, "owner@vases.test").await;
    let store = format!("/o/{org}/store");
    let shown = owner.get(&store).await;
    assert!(
        shown
            .body
            .contains("Not approved by the operator: Add a description of what you sell"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("Apply again"));
    let fields = |slug: &'static str| {
        vec![
            ("store_name", "Vases"),
            ("slug", slug),
            ("description", "Hand-thrown stoneware vases."),
            ("latitude", ""),
            ("longitude", ""),
            ("location_label", ""),
        ]
    };
    let bad = owner.submit(&store, &store, &fields("Vases!")).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("slug").is_some(), "{}", bad.body);
    let again = owner.submit(&store, &store, &fields("vases")).await;
    assert_eq!(again.status, 303, "{}", again.body);
    let pending = owner.get(again.location.as_deref().expect("back")).await;
    assert!(
        pending.body.contains("Waiting for approval"),
        "{}",
        pending.body
    );
    assert!(!pending.body.contains("Not approved by the operator"));
    let answer = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor", &owner_token)
            .await,
    )
    .await;
    assert_eq!(answer["data"]["status"], "pending", "{answer}");
    assert!(answer["data"]["suspended_reason"].is_null(), "{answer}");
    assert_eq!(
        answer["data"]["description"],
        "Hand-thrown stoneware vases."
    );
}

/// A URL where nothing listens: a payment provider that is down.
fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    drop(listener);
    url
}

/// Stripe is down at checkout: the order never reached it. The buyer
/// reads "payment not started" (never "paid" or "refunded"), and the
/// store never sees it among its sales or earnings.
async fn an_order_whose_payment_never_started_is_not_paid_nor_a_sale(backend: Backend) {
    let down = unreachable_url();
    let market = Market::start_with(backend, |c| c.stripe_api_base = down.clone()).await;
    let store = market.store("bowls", None).await;
    let product = market
        .product(&store, "Walnut Bowl", 3_000, 4, json!({}))
        .await;
    let token = market.buyer("ada@bowls.test").await;
    assert_eq!(market.add(&token, &product, 1).await.status(), 201);
    let refused = market.checkout(&token, "bowls-1", "stripe").await;
    assert_eq!(refused.status(), 503, "{}", json(refused).await);
    let orders = api_orders(&market, &token).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let order = &orders[0];
    assert_eq!(order["status"], "cancelled", "{order}");
    assert!(order["paid_at"].is_null() && order["payment"]["reference"].is_null());
    let id = order["id"].as_str().expect("an id");
    assert_eq!(market.stock(&product).await, (4, 0, 0), "the stock is back");

    // The buyer's pages.
    let ada = signed_in(&market, "ada@bowls.test").await;
    let page = ada.get(&format!("/marketplace/orders/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Payment not started"), "{}", page.body);
    assert!(page.body.contains("nothing was charged"), "{}", page.body);
    for wrong in ["paid with", "refunded", "Anything paid"] {
        assert!(!page.body.contains(wrong), "{wrong}: {}", page.body);
    }
    let list = ada.get("/marketplace/orders").await;
    assert!(list.body.contains("Payment not started"), "{}", list.body);

    // The store: not among its orders (whatever the filter), no earnings.
    for query in ["", "?status=cancelled"] {
        let answer = json(
            market
                .app
                .get_as(
                    &format!("/api/v1/marketplace/vendor/orders{query}"),
                    &store.owner,
                )
                .await,
        )
        .await;
        assert_eq!(
            answer["data"].as_array().map(Vec::len),
            Some(0),
            "{query}: {answer}"
        );
    }
    let owner = signed_in(&market, "bowls-owner@example.com").await;
    let orders_page = owner
        .get(&format!("/o/{}/store/orders", store.org_id))
        .await;
    assert_eq!(orders_page.status, 200, "{}", orders_page.body);
    assert!(
        !orders_page.body.contains("30.00 USD"),
        "{}",
        orders_page.body
    );
    let ledger = json(
        market
            .app
            .get_as("/api/v1/marketplace/vendor/ledger", &store.owner)
            .await,
    )
    .await;
    assert!(
        !ledger.to_string().contains("3000") && !ledger.to_string().contains("2700"),
        "{ledger}"
    );
}

/// Stripe is down at checkout: the buyer reads a plain sentence and a
/// reference to quote (the request's id), never the provider's URL or the
/// HTTP client's error; the server log keeps the detail.
async fn a_provider_that_is_down_is_a_plain_sentence_and_a_reference_to_buyers(backend: Backend) {
    let down = unreachable_url();
    let market = Market::start_with(backend, |c| c.stripe_api_base = down.clone()).await;
    let store = market.store("mugs", None).await;
    let product = market
        .product(&store, "Stoneware Mug", 1_500, 4, json!({}))
        .await;
    let token = market.buyer("ada@mugs.test").await;
    let ada = signed_in(&market, "ada@mugs.test").await;
    assert_eq!(add_on_page(&ada, &product, "1").await.status, 303);
    let cart = ada.get("/marketplace/cart").await;
    let key = checkout_key(&cart);
    let refused = ada
        .post(
            "/marketplace/cart/checkout",
            &[
                ("csrf", &cart.csrf()),
                ("provider", "stripe"),
                ("key", &key),
            ],
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.body.contains(
            "The payment provider could not be reached; nothing was charged. Try again in a few minutes."
        ),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Reference: "), "{}", refused.body);
    for raw in [
        "127.0.0.1",
        "http://",
        "error sending request",
        down.as_str(),
    ] {
        assert!(!refused.body.contains(raw), "{raw}: {}", refused.body);
    }
    // The API says the same, its reference the request's id.
    assert_eq!(market.add(&token, &product, 1).await.status(), 201);
    let answer = market.checkout(&token, "mugs-api", "stripe").await;
    assert_eq!(answer.status(), 503);
    let body = json(answer).await;
    let message = body["error"]["message"].as_str().expect("a message");
    let request_id = body["error"]["request_id"].as_str().expect("a request id");
    assert!(
        message.contains(&format!("Reference: {request_id}")),
        "{body}"
    );
    assert!(
        !message.contains("127.0.0.1") && !message.contains("error sending"),
        "{body}"
    );
}

/// Refused values of the product forms (a slug the store uses already, a
/// stock that is not a number) and of the checkout's address: each
/// message beside its field.
async fn the_product_and_checkout_forms_say_each_refusal_beside_its_field(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("jugs", None).await;
    let product = market
        .product(&store, "Clay Jug", 2_500, 3, json!({}))
        .await;
    let owner = signed_in(&market, "jugs-owner@example.com").await;
    let products = format!("/o/{}/store/products", store.org_id);
    let fields = |slug: &'static str, stock: &'static str| {
        vec![
            ("title", "Clay Jug"),
            ("slug", slug),
            ("description", ""),
            ("price", "25.00"),
            ("currency", "USD"),
            ("stock", stock),
            ("status", "active"),
            ("categories", ""),
            ("images", ""),
            ("latitude", ""),
            ("longitude", ""),
            ("location_label", ""),
        ]
    };
    let taken = owner
        .submit(&products, &products, &fields("clay-jug", "2"))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken.field_error("slug").is_some(), "{}", taken.body);
    let bad = owner
        .submit(&products, &products, &fields("big-jug", "lots"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("stock").is_some(), "{}", bad.body);
    let edit = format!("{products}/{product}");
    let bad = owner.submit(&edit, &edit, &fields("clay-jug", "-1")).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("stock").is_some(), "{}", bad.body);

    // The checkout's address.
    market.buyer("ada@jugs.test").await;
    let ada = signed_in(&market, "ada@jugs.test").await;
    assert_eq!(add_on_page(&ada, &product, "1").await.status, 303);
    let cart = ada.get("/marketplace/cart").await;
    let key = checkout_key(&cart);
    let refused = ada
        .post(
            "/marketplace/cart/checkout",
            &[
                ("csrf", &cart.csrf()),
                ("provider", "stripe"),
                ("key", &key),
                ("shipping.name", "Ada"),
                ("shipping.line1", "1 Marina Road"),
                ("shipping.city", "Lagos"),
                ("shipping.country", "Nigeria"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .field_error("shipping.country")
            .expect("beside the country")
            .contains("ISO 3166"),
        "{}",
        refused.body
    );
}
