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
        adjust: impl FnOnce(&mut landlord::settings::Settings),
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

/// A second organization, B, in the same server as a [`Team`]: its owner,
/// a member, a pending invitation and a session.
/// B's owner is `beta-owner@example.com`.
pub struct Neighbour {
    pub org_id: String,
    pub owner_id: String,
    pub member_id: String,
    pub invitation_id: String,
    pub session_id: String,
}

impl Neighbour {
    pub async fn beside(team: &Team) -> Neighbour {
        let app = &team.app;
        let registered = app.register("beta-owner@example.com", "Beta").await;
        let owner = token_of(&registered, "access_token");
        let (_, member_id) =
            join(app, &team.smtp, &owner, "beta-member@example.com", "member").await;
        invite(
            app,
            &team.smtp,
            &owner,
            "beta-invitee@example.com",
            "member",
        )
        .await;
        let invitations = json(app.get_as("/api/v1/team/invitations", &owner).await).await;
        let sessions = json(app.get_as("/api/v1/auth/sessions", &owner).await).await;
        Neighbour {
            org_id: token_of(&registered["organization"], "id"),
            owner_id: token_of(&registered["user"], "id"),
            invitation_id: token_of(&invitations["data"][0], "id"),
            session_id: token_of(&sessions["data"][0], "id"),
            member_id,
        }
    }

    /// B's memberships, invitations, settings and sessions, as stored.
    pub async fn snapshot(&self, app: &TestApp) -> NeighbourSnapshot {
        let pool = app.db.pool();
        let members = sqlx::query_as(
            "SELECT user_id, role FROM memberships WHERE organization_id = $1 ORDER BY user_id",
        )
        .bind(&self.org_id)
        .fetch_all(pool)
        .await
        .expect("memberships");
        let invitations = sqlx::query_as(
            "SELECT id, status FROM invitations WHERE organization_id = $1 ORDER BY id",
        )
        .bind(&self.org_id)
        .fetch_all(pool)
        .await
        .expect("invitations");
        let organization =
            sqlx::query_as("SELECT name, billing_email FROM organizations WHERE id = $1")
                .bind(&self.org_id)
                .fetch_one(pool)
                .await
                .expect("organization");
        let sessions = sqlx::query_as(
            "SELECT id, revoked_at FROM refresh_sessions WHERE organization_id = $1 ORDER BY id",
        )
        .bind(&self.org_id)
        .fetch_all(pool)
        .await
        .expect("sessions");
        NeighbourSnapshot {
            members,
            invitations,
            organization,
            sessions,
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct NeighbourSnapshot {
    pub members: Vec<(String, String)>,
    pub invitations: Vec<(String, String)>,
    pub organization: (String, Option<String>),
    pub sessions: Vec<(String, Option<i64>)>,
}

/// A team whose audit log holds every kind of team change: an invitation
/// cancelled by the admin, one declined, a role change, a member who left,
/// one removed, and ownership transferred to the admin.
pub async fn team_with_history(backend: Backend) -> Team {
    let team = Team::new(backend, "trail").await;
    let app = &team.app;
    invite(app, &team.smtp, &team.owner, "gone@example.com", "member").await;
    let pending = json(
        app.get_as("/api/v1/team/invitations?status=pending", &team.owner)
            .await,
    )
    .await;
    let id = token_of(&pending["data"][0], "id");
    app.delete_as(&format!("/api/v1/team/invitations/{id}"), &team.admin)
        .await;
    let token = invite(app, &team.smtp, &team.owner, "nah@example.com", "member").await;
    app.post_json("/api/v1/team/decline-invitation", &json!({"token": token}))
        .await;
    app.client
        .put(app.url(&format!("/api/v1/team/members/{}/role", team.member_id)))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .expect("request sent");
    let (leaver, _) = join(app, &team.smtp, &team.owner, "leaver@example.com", "member").await;
    app.post_as("/api/v1/team/leave", &leaver, &json!({})).await;
    let (_, removed) = join(
        app,
        &team.smtp,
        &team.owner,
        "removed@example.com",
        "member",
    )
    .await;
    app.delete_as(&format!("/api/v1/team/members/{removed}"), &team.owner)
        .await;
    app.post_as(
        "/api/v1/team/transfer-ownership",
        &team.owner,
        &json!({"user_id": team.admin_id}),
    )
    .await;
    team
}
