//! The inbox's live stream ends when access ends and is bounded; the
//! channel cap holds under concurrency — over HTTP, on SQLite and
//! PostgreSQL: signing out, revoking the session and removing the member
//! each end an open stream within seconds (another session's stream goes
//! on), on another instance too through Redis; a stream ends after its
//! maximum lifetime and resumes with `Last-Event-ID`; the per-person and
//! per-organization caps and the opening rate answer 429 with
//! `Retry-After`, and a closed stream frees its place; parallel channel
//! connections across two instances never pass the cap.

use std::time::Duration;

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in, token_of, PASSWORD};
use crate::support::errors::assert_rate_limited;
use crate::support::eventually::eventually;
use crate::support::redis::RedisServer;
use crate::support::team::Team;
use crate::support::{Backend, TestApp};

backend_tests!(
    signing_out_ends_the_open_stream,
    revoking_a_session_ends_its_stream_and_no_other,
    removing_a_member_ends_their_stream,
    a_revocation_on_one_instance_ends_the_stream_on_another,
    a_stream_ends_after_its_maximum_lifetime_and_resumes,
    open_streams_are_capped_per_person_and_per_organization,
    opening_streams_is_rate_limited,
    parallel_channel_connections_across_two_instances_keep_the_cap,
);

/// Long enough that only the wake-up on a change can end a stream within
/// the tests' waits: the periodic check does not come in time.
const NO_PERIODIC_CHECK_MS: u64 = 60_000;

/// How long a stream may take to end once access ended.
const ENDS_WITHIN: Duration = Duration::from_secs(10);

/// What reading a stream gave.
#[derive(Debug)]
enum Read {
    Event {
        id: String,
        event: String,
    },
    /// The server ended the body.
    Ended,
    /// Nothing within the wait.
    Silent,
}

/// An open `text/event-stream` answer.
struct Stream {
    response: reqwest::Response,
    text: String,
}

impl Stream {
    async fn open(app: &TestApp, path: &str, token: &str, last_event_id: Option<&str>) -> Stream {
        let response = try_open(app, path, token, last_event_id).await;
        assert_eq!(response.status(), 200, "the stream opens");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Stream {
            response,
            text: String::new(),
        }
    }

    /// The API's stream.
    async fn api(app: &TestApp, token: &str) -> Stream {
        Self::open(app, "/api/v1/inbox/stream", token, None).await
    }

    /// The next event (keep-alive comments skipped), the end, or silence
    /// for `within`.
    async fn next(&mut self, within: Duration) -> Read {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let frame: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| {
                    frame
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(|v| v.trim().to_string())
                };
                if let Some(event) = field("event:") {
                    return Read::Event {
                        id: field("id:").unwrap_or_default(),
                        event,
                    };
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => return Read::Ended,
                Err(_) => return Read::Silent,
            }
        }
    }

    /// Reads until the server ends the stream; fails the test when it is
    /// still open after `within`. Answers the last event id read.
    async fn ends_within(&mut self, within: Duration, what: &str) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Read::Event { id, .. } => last = Some(id),
                Read::Ended => return last,
                Read::Silent => panic!("the stream is still open {within:?} after {what}"),
            }
        }
    }

    /// The first event, proving the stream is live (connecting publishes
    /// the person's presence).
    async fn is_live(&mut self) -> String {
        match self.next(Duration::from_secs(20)).await {
            Read::Event { id, .. } => id,
            other => panic!("the stream gave {other:?} instead of its first event"),
        }
    }

    /// Still open: an event or silence within `within`, not the end.
    async fn still_open(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Read::Event { .. } => {}
                Read::Silent => return,
                Read::Ended => panic!("the stream ended though its access did not"),
            }
        }
    }
}

async fn try_open(
    app: &TestApp,
    path: &str,
    token: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.unwrap()
}

/// A server whose periodic access check comes too late for the tests.
async fn app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.inbox.stream_access_check_ms = NO_PERIODIC_CHECK_MS;
    })
    .await
}

/// The id of the session of `token`.
async fn session_of(app: &TestApp, token: &str) -> String {
    let sessions = data(app.get_as("/api/v1/auth/sessions", token).await).await;
    let current = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session")
        .clone();
    token_of(&current, "id")
}

async fn signing_out_ends_the_open_stream(backend: Backend) {
    let app = app(backend).await;
    let (token, _) = signed_in(&app, "leaving@example.com").await;
    let mut stream = Stream::api(&app, &token).await;
    stream.is_live().await;

    let out = app.post_as("/api/v1/auth/logout", &token, &json!({})).await;
    assert_eq!(out.status(), 200);
    stream.ends_within(ENDS_WITHIN, "signing out").await;
    let again = try_open(&app, "/api/v1/inbox/stream", &token, None).await;
    assert_eq!(again.status(), 401, "the signed-out token opens no stream");
}

async fn revoking_a_session_ends_its_stream_and_no_other(backend: Backend) {
    let app = app(backend).await;
    let email = "two-sessions@example.com";
    let (first, _) = signed_in(&app, email).await;
    let second = token_of(
        &data(app.login(email, PASSWORD).await).await,
        "access_token",
    );
    let mut on_first = Stream::api(&app, &first).await;
    let mut on_second = Stream::api(&app, &second).await;
    on_first.is_live().await;
    on_second.is_live().await;

    let first_session = session_of(&app, &first).await;
    let revoked = app
        .delete_as(&format!("/api/v1/auth/sessions/{first_session}"), &second)
        .await;
    assert_eq!(revoked.status(), 200);
    on_first
        .ends_within(ENDS_WITHIN, "revoking its session")
        .await;
    // The other session's stream goes on and still receives.
    let presence = app
        .post_as(
            "/api/v1/inbox/presence",
            &second,
            &json!({ "status": "online" }),
        )
        .await;
    assert_eq!(presence.status(), 200);
    match on_second.next(Duration::from_secs(20)).await {
        Read::Event { event, .. } => assert_eq!(event, "presence"),
        other => panic!("the live session's stream gave {other:?}"),
    }

    // Revoking every session ends that one too.
    let all = app.delete_as("/api/v1/auth/sessions", &second).await;
    assert_eq!(all.status(), 200);
    on_second
        .ends_within(ENDS_WITHIN, "revoking every session")
        .await;
}

async fn removing_a_member_ends_their_stream(backend: Backend) {
    let team = Team::new_with(backend, "removed-stream", |c| {
        c.inbox.stream_access_check_ms = NO_PERIODIC_CHECK_MS;
    })
    .await;
    let app = &team.app;
    let mut members = Stream::api(app, &team.member).await;
    let mut owners = Stream::api(app, &team.owner).await;
    members.is_live().await;
    owners.is_live().await;

    let removed = app
        .delete_as(
            &format!("/api/v1/team/members/{}", team.member_id),
            &team.owner,
        )
        .await;
    assert_eq!(removed.status(), 200);
    members
        .ends_within(ENDS_WITHIN, "removing the member")
        .await;
    owners.still_open(Duration::from_secs(2)).await;

    // Leaving ends the leaver's stream the same way.
    let mut admins = Stream::api(app, &team.admin).await;
    admins.is_live().await;
    let left = app
        .post_as("/api/v1/team/leave", &team.admin, &json!({}))
        .await;
    assert_eq!(left.status(), 200);
    admins.ends_within(ENDS_WITHIN, "leaving").await;
}

async fn a_revocation_on_one_instance_ends_the_stream_on_another(backend: Backend) {
    let test = "inbox_limits::a_revocation_on_one_instance_ends_the_stream_on_another";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let shared = |c: &mut landlord::settings::Settings| {
        c.token_signing_key = Some("a token signing key for two servers, 32+".into());
        c.payload_encryption_key = Some("a payload key for two servers, long enough".into());
        c.redis_url = Some(redis.url().into());
        c.inbox.stream_access_check_ms = NO_PERIODIC_CHECK_MS;
    };
    let first = TestApp::spawn_with(backend, shared).await;
    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        shared(c);
        c.database_url = Some(database);
    })
    .await;
    let (token, _) = signed_in(&first, "across@example.com").await;
    let mut on_second = Stream::api(&second, &token).await;
    on_second.is_live().await;

    let out = first
        .post_as("/api/v1/auth/logout", &token, &json!({}))
        .await;
    assert_eq!(out.status(), 200);
    on_second
        .ends_within(ENDS_WITHIN, "signing out on the other instance")
        .await;
}

async fn a_stream_ends_after_its_maximum_lifetime_and_resumes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.inbox.stream_max_lifetime_secs = 2).await;
    let (token, _) = signed_in(&app, "lifetime@example.com").await;
    let mut stream = Stream::api(&app, &token).await;
    let first = stream.is_live().await;
    let last = stream
        .ends_within(ENDS_WITHIN, "its maximum lifetime")
        .await
        .unwrap_or(first);

    // Something happens while disconnected; the reconnection with the
    // last id gets it.
    let presence = app
        .post_as(
            "/api/v1/inbox/presence",
            &token,
            &json!({ "status": "offline" }),
        )
        .await;
    assert_eq!(presence.status(), 200);
    let mut again = Stream::open(&app, "/api/v1/inbox/stream", &token, Some(&last)).await;
    match again.next(Duration::from_secs(20)).await {
        Read::Event { event, id } => {
            assert_eq!(event, "presence");
            assert!(id > last, "resumed after the last id");
        }
        other => panic!("the resumed stream gave {other:?}"),
    }
}

async fn open_streams_are_capped_per_person_and_per_organization(backend: Backend) {
    let team = Team::new_with(backend, "capped", |c| {
        c.inbox.max_streams_per_user = 2;
        c.inbox.max_streams_per_organization = 3;
    })
    .await;
    let app = &team.app;
    let path = "/api/v1/inbox/stream";
    let one = Stream::api(app, &team.owner).await;
    let _two = Stream::api(app, &team.owner).await;
    let (body, _) = assert_rate_limited(try_open(app, path, &team.owner, None).await).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2"),
        "{body}"
    );

    // The organization's third stream is the last.
    let _members = Stream::api(app, &team.member).await;
    let (body, _) = assert_rate_limited(try_open(app, path, &team.admin, None).await).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{body}"
    );
    // Another organization is not concerned.
    let (stranger, _) = signed_in(app, "capped-stranger@example.com").await;
    let _theirs = Stream::api(app, &stranger).await;

    // Closing a stream frees its place.
    drop(one);
    let reopened = eventually(
        "the closed stream's place",
        Duration::from_secs(30),
        async || {
            let response = try_open(app, path, &team.admin, None).await;
            (response.status() == 200).then_some(response)
        },
    )
    .await;
    assert!(reopened.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
}

async fn opening_streams_is_rate_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.inbox.stream_opens_per_minute = 3).await;
    let (token, _) = signed_in(&app, "opener@example.com").await;
    for _ in 0..3 {
        // Each closed at once: only the rate counts.
        drop(Stream::api(&app, &token).await);
    }
    let refused = try_open(&app, "/api/v1/inbox/stream", &token, None).await;
    let (body, _) = assert_rate_limited(refused).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a minute"),
        "{body}"
    );
}

async fn parallel_channel_connections_across_two_instances_keep_the_cap(backend: Backend) {
    let keys = |c: &mut landlord::settings::Settings| {
        c.token_signing_key = Some("a token signing key for two servers, 32+".into());
        c.payload_encryption_key = Some("a payload key for two servers, long enough".into());
    };
    let first = TestApp::spawn_with(backend, keys).await;
    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        keys(c);
        c.database_url = Some(database);
    })
    .await;
    let (token, _) = signed_in(&first, "many-numbers@example.com").await;
    let cap = landlord_inbox::channels::MAX_CHANNELS;
    let attempts = 2 * cap;
    let tasks: Vec<_> = (0..attempts)
        .map(|i| {
            let app = if i % 2 == 0 { &first } else { &second };
            let request = app
                .client
                .post(app.url("/api/v1/inbox/channels"))
                .bearer_auth(&token)
                .json(&json!({
                    "name": format!("Line {i}"),
                    "phone_number_id": format!("{}", 106_540_352_242_000_u64 + i as u64),
                    "business_account_id": "102290129340398",
                    "access_token": "EAAG-access-token-9Qz",
                    "app_secret": "app-secret-of-the-test",
                    "verify_token": "verify-token-of-the-test",
                }));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            201 | 200 => created += 1,
            409 => {}
            other => panic!("a connection answered {other}"),
        }
    }
    assert_eq!(created, cap, "exactly the cap's channels were connected");
    let listed: Value = data(first.get_as("/api/v1/inbox/channels", &token).await).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        cap,
        "and the cap is what is stored"
    );
}
