//! A team to test against: an organization with an owner, an admin and a
//! member, each signed in, and the invitations that bring people in.

use std::time::Duration;

use serde_json::json;

use super::accounts::{token_of, PASSWORD};
use super::app::{json, smtp_to};
use super::errors::assert_error;
use super::eventually::eventually;
use super::smtp::SmtpServer;
use super::{Backend, TestApp};

/// An organization with an owner, an admin and a member, each signed in.
pub struct Team {
    pub app: TestApp,
    pub smtp: SmtpServer,
    pub org_id: String,
    pub owner: String,
    pub owner_id: String,
    pub admin: String,
    pub admin_id: String,
    pub member: String,
    pub member_id: String,
}

impl Team {
    pub async fn new(backend: Backend, prefix: &str) -> Team {
        Self::new_with(backend, prefix, |_| {}).await
    }

    /// Like [`Team::new`], after letting `adjust` change the configuration.
    pub async fn new_with(
        backend: Backend,
        prefix: &str,
        adjust: impl FnOnce(&mut landlord_core::Config),
    ) -> Team {
        let smtp = SmtpServer::start().await;
        let port = smtp.port;
        let app = TestApp::spawn_with(backend, |c| {
            smtp_to(c, port);
            adjust(c);
        })
        .await;
        let owner_email = format!("{prefix}-owner@example.com");
        let registered = app.register(&owner_email, &format!("{prefix} Inc")).await;
        let owner = token_of(&registered, "access_token");
        let (admin, admin_id) = join(
            &app,
            &smtp,
            &owner,
            &format!("{prefix}-admin@example.com"),
            "admin",
        )
        .await;
        let (member, member_id) = join(
            &app,
            &smtp,
            &owner,
            &format!("{prefix}-member@example.com"),
            "member",
        )
        .await;
        Team {
            org_id: token_of(&registered["organization"], "id"),
            owner_id: token_of(&registered["user"], "id"),
            app,
            smtp,
            owner,
            admin,
            admin_id,
            member,
            member_id,
        }
    }

    /// Each role with its access token.
    pub fn roles(&self) -> [(&'static str, &str); 3] {
        [
            ("owner", &self.owner),
            ("admin", &self.admin),
            ("member", &self.member),
        ]
    }
}

/// Invites `email` as `role`, accepts as a new person; returns (access token, user id).
pub async fn join(
    app: &TestApp,
    smtp: &SmtpServer,
    inviter: &str,
    email: &str,
    role: &str,
) -> (String, String) {
    let token = invite(app, smtp, inviter, email, role).await;
    let accepted = app
        .post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": token, "password": PASSWORD, "name": "New Person"}),
        )
        .await;
    assert_eq!(accepted.status(), 200, "accept {email}");
    let session = json(accepted).await["data"]["session"].clone();
    (
        token_of(&session, "access_token"),
        token_of(&session["user"], "id"),
    )
}

/// Invites and returns the token from the invitation mail.
pub async fn invite(
    app: &TestApp,
    smtp: &SmtpServer,
    inviter: &str,
    email: &str,
    role: &str,
) -> String {
    let invitations_to = |smtp: &SmtpServer| {
        smtp.received()
            .into_iter()
            .filter(|m| m.to.contains(&email.to_string()) && m.subject().contains("invited you"))
            .collect::<Vec<_>>()
    };
    let before = invitations_to(smtp).len();
    let response = app
        .post_as(
            "/api/v1/team/invite",
            inviter,
            &json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(response.status(), 201, "invite {email}");
    let mail = eventually(
        format_args!("an invitation mail to {email}"),
        Duration::from_secs(20),
        async || {
            let mut mails = invitations_to(smtp);
            (mails.len() > before).then(|| mails.pop()).flatten()
        },
    )
    .await;
    mail.token().expect("invitation token")
}

/// The pending invitations' ids, as `who` sees them.
pub async fn pending_invitation_ids(app: &TestApp, who: &str) -> Vec<String> {
    let list = json(
        app.get_as("/api/v1/team/invitations?status=pending", who)
            .await,
    )
    .await;
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| token_of(i, "id"))
        .collect()
}

/// Calls `request` as each role: `allowed` roles must not get 403; the
/// others must get 403 naming `permission`.
pub async fn check_cell(
    team: &Team,
    label: &str,
    permission: &str,
    allowed: &[&str],
    request: impl Fn(&str) -> reqwest::RequestBuilder,
) {
    for (role, token) in team.roles() {
        let response = request(token).send().await.expect("request sent");
        if allowed.contains(&role) {
            assert!(
                response.status().is_success(),
                "{label}: {role} should be allowed, got {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        } else {
            let body = assert_error(response, 403, "FORBIDDEN").await;
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(permission)),
                "{label}: {role}: {body}"
            );
        }
    }
}

/// Registers `email` as the owner of a new `organization`; returns the
/// owner's access token.
pub async fn owner_of(app: &TestApp, email: &str, organization: &str) -> String {
    token_of(&app.register(email, organization).await, "access_token")
}
