//! The developer's app pages over HTTP (no JavaScript): create, settings
//! with each refusal beside its field, submit and its refusal, the
//! operator's reason shown, rotate on a public client, delete with the
//! slug kept; who may see them. On SQLite and PostgreSQL.

use serde_json::json;

use crate::backend_tests;
use crate::console::{owner_and_member, Browser};
use crate::support::apps::operator;
use crate::support::{Backend, TestApp};

backend_tests!(the_developers_pages_manage_an_app_and_say_every_refusal,);

async fn the_developers_pages_manage_an_app_and_say_every_refusal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, _) = owner_and_member(&app, "apps.test", "Acme", "member").await;
    let apps = format!("/o/{org}/apps");
    let empty = ada.get(&apps).await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("No app yet"), "{}", empty.body);

    // A public client without redirect URIs: created, no secret.
    let created = ada
        .submit(
            &format!("{apps}/new"),
            &apps,
            &[
                ("client_type", "public"),
                ("name", "Notes web"),
                ("slug", "notes-web"),
                ("category", "productivity"),
                ("redirect_uris", ""),
                ("scopes", "openid"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location.expect("the app's page");
    assert!(page.starts_with(&format!("{apps}/")), "{page}");
    let shown = ada.get(&page).await;
    assert!(
        shown.body.contains("A public client has no secret"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains("id=\"secret\""));

    // Submitting without a redirect URI: refused, said on the page.
    let refused = ada.submit(&page, &format!("{page}/submit"), &[]).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("Add at least one redirect URI"),
        "{}",
        refused.body
    );

    // Settings: each refusal beside its field.
    let other = Browser::new(&app);
    let carol_org = other.sign_up("carol@apps.test", "Carol's").await;
    let taken = other
        .submit(
            &format!("{carol_org}/apps/new"),
            &format!("{carol_org}/apps"),
            &[
                ("client_type", "public"),
                ("name", "Theirs"),
                ("slug", "theirs"),
                ("category", "other"),
            ],
        )
        .await;
    assert_eq!(taken.status, 303, "{}", taken.body);
    let bad = ada
        .submit(
            &page,
            &page,
            &[
                ("name", "Notes web"),
                ("slug", "theirs"),
                ("category", "productivity"),
                (
                    "redirect_uris",
                    "https://ok.example.com/cb\nhttp://notes.example.com/cb",
                ),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let line = bad
        .field_error("redirect_uris")
        .expect("the redirect URIs' error");
    assert!(line.starts_with("Line 2:"), "{line}");
    let slug = ada
        .submit(
            &page,
            &page,
            &[
                ("name", "Notes web"),
                ("slug", "theirs"),
                ("category", "other"),
                ("redirect_uris", "https://notes.example.com/cb"),
            ],
        )
        .await;
    assert_eq!(slug.status, 422, "{}", slug.body);
    assert!(
        slug.field_error("slug")
            .is_some_and(|e| e.contains("taken")),
        "{}",
        slug.body
    );

    // Saved with a new slug: the old one stays reserved.
    let saved = ada
        .submit(
            &page,
            &page,
            &[
                ("name", "Notes web"),
                ("slug", "notes-app"),
                ("category", "other"),
                ("redirect_uris", "https://notes.example.com/cb"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let after = ada.get(&page).await;
    assert!(
        after
            .body
            .contains("stays reserved for your organization for 30 days"),
        "{}",
        after.body
    );
    assert_eq!(after.input_value("slug").as_deref(), Some("notes-app"));

    // Submitted; the operator asks for changes; the developer reads why.
    let submitted = ada.submit(&page, &format!("{page}/submit"), &[]).await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    assert!(ada.get(&page).await.body.contains("Submitted for review"));
    let ops = operator(&app, "ops@apps.test").await;
    let id = page.rsplit('/').next().unwrap_or_default();
    let rejected = app
        .post_as(
            &format!("/api/v1/admin/apps/{id}/reject"),
            &ops,
            &json!({"reason": "Add a privacy policy."}),
        )
        .await;
    assert_eq!(rejected.status(), 200);
    let reason = ada.get(&page).await;
    assert!(
        reason
            .body
            .contains("asks for changes: Add a privacy policy."),
        "{}",
        reason.body
    );

    // A public client has no secret to rotate: said once on the page.
    let rotate = ada
        .submit(
            &format!("{page}/rotate-secret"),
            &format!("{page}/rotate-secret"),
            &[],
        )
        .await;
    assert_eq!(rotate.status, 303, "{}", rotate.body);
    assert!(ada
        .get(&page)
        .await
        .body
        .contains("A public client has no secret to rotate"));

    // A member may not see the pages; another organization's app is not found.
    assert_eq!(bob.get(&apps).await.status, 403);
    assert_eq!(bob.get(&page).await.status, 403);
    assert_eq!(other.get(&apps).await.status, 404);
    assert_eq!(
        other.get(&format!("{carol_org}/apps/{id}")).await.status,
        404
    );

    // Deleted after the confirmation, which says the slug stays reserved.
    let confirm = ada.get(&format!("{page}/delete")).await;
    assert!(
        confirm
            .body
            .contains("stays reserved for your organization for 30 days"),
        "{}",
        confirm.body
    );
    let deleted = ada
        .submit(&format!("{page}/delete"), &format!("{page}/delete"), &[])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(deleted.location.as_deref(), Some(apps.as_str()));
    let list = ada.get(&apps).await;
    assert!(
        list.body
            .contains("stays reserved for your organization until"),
        "{}",
        list.body
    );
    assert_eq!(ada.get(&page).await.status, 404);
}
