//! The overview's first steps for a new organization: create an API key,
//! make a first request, invite a teammate, choose a plan. Each is ticked
//! from the organization's real state, never from a click; a step whose
//! page the person may not use is not offered to them; the list goes away
//! once every step is done.

use landlord_identity::permissions::{self, Permission};
use landlord_identity::Role;
use serde_json::{json, Value};

/// What the organization has done so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// An active API key exists.
    pub key: bool,
    /// A metered request was ever recorded.
    pub request: bool,
    /// Another member, or a pending invitation.
    pub teammate: bool,
    /// A plan change was ever made or scheduled, or the organization is on
    /// another plan than the default one.
    pub plan: bool,
}

/// One step: its key, whether it is done, its title and link, and who
/// may follow the link.
struct Step {
    key: &'static str,
    done: bool,
    title: &'static str,
    text: &'static str,
    link: String,
    link_text: &'static str,
    permission: Option<Permission>,
}

/// The first request, ready to copy: a message to the person's own
/// address through the messaging API, with the key in `$LANDLORD_KEY`.
pub fn curl_snippet(public_url: &str, email: &str) -> String {
    let base = public_url.trim_end_matches('/');
    // The fields in the order a person reads them.
    let body = format!(
        "{{\"channel\":\"email\",\"to\":{},\"subject\":\"Hello from Landlord\",\"body\":\"My first request.\"}}",
        Value::from(email)
    );
    // Single quotes around the body: escape any the address may hold.
    let body = body.replace('\'', "'\\''");
    format!(
        "curl -X POST {base}/api/v1/messages/send \\\n  -H \"X-API-Key: $LANDLORD_KEY\" \\\n  -H 'content-type: application/json' \\\n  -d '{body}'"
    )
}

/// The checklist the overview shows `role` (`None`: nothing to show — every
/// step done, or none this person may take).
pub fn checklist(
    progress: Progress,
    role: Role,
    organization_id: &str,
    public_url: &str,
    email: &str,
) -> Option<Value> {
    let steps = [
        Step {
            key: "key",
            done: progress.key,
            title: "Create an API key",
            text: "Programs call the API with a key; its secret is shown once.",
            link: format!("/o/{organization_id}/keys/new"),
            link_text: "Create an API key",
            permission: Some(permissions::CREATE_API_KEYS),
        },
        Step {
            key: "request",
            done: progress.request,
            title: "Make a first request",
            text:
                "Put the key's secret in LANDLORD_KEY and send yourself an email through the API:",
            link: "/docs".into(),
            link_text: "Read the API reference",
            permission: Some(permissions::CREATE_API_KEYS),
        },
        Step {
            key: "teammate",
            done: progress.teammate,
            title: "Invite a teammate",
            text: "Work together: members create their own keys, admins manage the team.",
            link: format!("/o/{organization_id}/team"),
            link_text: "Invite someone",
            permission: Some(permissions::INVITE_MEMBERS),
        },
        Step {
            key: "plan",
            done: progress.plan,
            title: "Choose a plan",
            text: "Compare the plans' included requests and limits, and pick the one that fits.",
            link: format!("/o/{organization_id}/billing"),
            link_text: "Compare the plans",
            permission: Some(permissions::UPGRADE_PLAN),
        },
    ];
    let all_done = steps.iter().all(|step| step.done);
    let offered: Vec<&Step> = steps
        .iter()
        .filter(|step| step.permission.is_none_or(|p| permissions::allows(role, p)))
        .collect();
    if all_done || offered.iter().all(|step| step.done) {
        return None;
    }
    let done = offered.iter().filter(|step| step.done).count();
    let items: Vec<Value> = offered
        .iter()
        .map(|step| {
            json!({
                "key": step.key,
                "done": step.done,
                "title": step.title,
                "text": step.text,
                "link": step.link,
                "link_text": step.link_text,
            })
        })
        .collect();
    Some(json!({
        "steps": items,
        "done": done,
        "total": offered.len(),
        "curl": curl_snippet(public_url, email),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &Value) -> Vec<(String, bool)> {
        list["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["key"].as_str().unwrap().to_owned(), s["done"] == true))
            .collect()
    }

    #[test]
    fn an_owner_sees_every_step_ticked_from_state() {
        let fresh = checklist(
            Progress::default(),
            Role::Owner,
            "org_1",
            "http://x",
            "a@b.c",
        )
        .expect("a new organization has steps");
        assert_eq!(fresh["done"], 0);
        assert_eq!(fresh["total"], 4);
        let some = Progress {
            key: true,
            request: true,
            ..Progress::default()
        };
        let list = checklist(some, Role::Owner, "org_1", "http://x", "a@b.c").unwrap();
        assert_eq!(list["done"], 2);
        assert_eq!(
            keys(&list),
            [
                ("key".into(), true),
                ("request".into(), true),
                ("teammate".into(), false),
                ("plan".into(), false)
            ]
        );
        let every = Progress {
            key: true,
            request: true,
            teammate: true,
            plan: true,
        };
        assert!(checklist(every, Role::Owner, "org_1", "http://x", "a@b.c").is_none());
    }

    #[test]
    fn steps_a_role_may_not_take_are_not_offered() {
        let member =
            checklist(Progress::default(), Role::Member, "o", "http://x", "a@b.c").unwrap();
        assert_eq!(
            keys(&member),
            [("key".into(), false), ("request".into(), false)]
        );
        let admin = checklist(Progress::default(), Role::Admin, "o", "http://x", "a@b.c").unwrap();
        assert_eq!(admin["total"], 3);
        // A member whose steps are done has nothing left to see.
        let theirs = Progress {
            key: true,
            request: true,
            ..Progress::default()
        };
        assert!(checklist(theirs, Role::Member, "o", "http://x", "a@b.c").is_none());
    }

    #[test]
    fn the_snippet_uses_the_public_url_and_the_placeholder() {
        let curl = curl_snippet("https://api.example.com/", "o'neil@example.com");
        assert!(curl.starts_with("curl -X POST https://api.example.com/api/v1/messages/send"));
        assert!(curl.contains("X-API-Key: $LANDLORD_KEY"));
        assert!(curl.contains("o'\\''neil@example.com"), "{curl}");
        assert!(
            curl.ends_with(r#"-d '{"channel":"email","to":"o'\''neil@example.com","subject":"Hello from Landlord","body":"My first request."}'"#),
            "{curl}"
        );
    }
}
