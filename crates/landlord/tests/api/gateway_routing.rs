//! Apps on their hosts: the platform's host serves the console and the
//! API, `{slug}.apps.localhost` a published app's upstream, any other host
//! 421. Over HTTP (the `Host` header on 127.0.0.1), on SQLite and
//! PostgreSQL.

use axum::http::Method;

use crate::backend_tests;
use crate::support::app::{json, TestApp};
use crate::support::gateway::{
    allow_loopback_upstreams, at_host, get_at, host_of, published_app, Upstream,
};
use crate::support::Backend;

backend_tests!(a_published_app_answers_on_its_subdomain_and_other_hosts_do_not);

async fn a_published_app_answers_on_its_subdomain_and_other_hosts_do_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    published_app(&app, "dev@example.com", "notes", &upstream.url()).await;

    let answer = get_at(&app, &host_of("notes"), "/hello?x=1").await;
    assert_eq!(answer.status(), 200);
    let echoed = json(answer).await;
    assert_eq!(echoed["uri"], "/hello?x=1");
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        (&received[0].method, received[0].uri.as_str()),
        (&Method::GET, "/hello?x=1")
    );
    assert!(received[0].body.is_empty() && received[0].headers.contains_key("host"));

    // The host's case and port do not matter.
    let answer = get_at(&app, "Notes.Apps.Localhost:8080", "/").await;
    assert_eq!(answer.status(), 200);

    // No such app under the apps domain: 404; someone else's name: 421.
    let answer = get_at(&app, &host_of("nothing-here"), "/").await;
    assert_eq!(answer.status(), 404);
    let answer = get_at(&app, "evil.example.com", "/api/v1/organization").await;
    assert_eq!(answer.status(), 421);

    // The platform's own hosts serve the API as ever.
    for host in ["127.0.0.1", "localhost"] {
        let answer = at_host(&app, Method::GET, host, "/health").send().await;
        assert_eq!(answer.expect("sent").status(), 200, "{host}");
    }
}
