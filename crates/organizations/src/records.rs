//! The audit log and the event history as a person reads them: a sentence
//! per entry ("alice@example.com created API key ‘ci’", "The invoice for
//! 2026-11 was paid"), its actor and target linked to their pages where a
//! page exists. Pure: the pages pass what they read; a template renders
//! the segments (text, or text with a link), escaped as any other value.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

/// A piece of a sentence: text, linked when `href` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

fn text(text: impl Into<String>) -> Segment {
    Segment {
        text: text.into(),
        href: None,
    }
}

fn link(text: impl Into<String>, href: impl Into<String>) -> Segment {
    Segment {
        text: text.into(),
        href: Some(href.into()),
    }
}

/// What the sentences may name and link: the organization (its pages are
/// under `/o/{organization}`) and its members' emails by user id (a
/// member's name links to the team page).
pub struct Names<'a> {
    pub organization: &'a str,
    pub members: &'a HashMap<String, String>,
}

impl Names<'_> {
    fn page(&self, path: &str) -> String {
        format!("/o/{}{path}", self.organization)
    }

    /// A person by user id: their email linked to the team page while they
    /// are a member; `fallback` (an email the record kept) otherwise.
    fn person(&self, user_id: Option<&str>, fallback: Option<&str>) -> Segment {
        match user_id.and_then(|id| self.members.get(id)) {
            Some(email) => link(email.clone(), self.page("/team")),
            None => text(fallback.unwrap_or("a former member").to_owned()),
        }
    }

    fn key(&self, id: &str, name: Option<&str>) -> Segment {
        let label = match name {
            Some(name) => format!("API key ‘{name}’"),
            None => format!("API key {id}"),
        };
        link(label, self.page(&format!("/keys/{id}")))
    }

    fn endpoint(&self, id: &str, url: Option<&str>, exists: bool) -> Segment {
        let label = format!("webhook endpoint {}", url.unwrap_or(id));
        if exists {
            link(label, self.page(&format!("/webhooks/{id}")))
        } else {
            text(label)
        }
    }

    fn invoice(&self, id: &str, period: Option<&str>) -> Segment {
        let label = match period {
            Some(period) => format!("the invoice for {period}"),
            None => "an invoice".to_owned(),
        };
        link(label, self.page(&format!("/billing/invoices/{id}")))
    }
}

fn field<'v>(details: Option<&'v Value>, name: &str) -> Option<&'v str> {
    details.and_then(|d| d.get(name)).and_then(Value::as_str)
}

fn capitalized(mut segments: Vec<Segment>) -> Vec<Segment> {
    if let Some(first) = segments.first_mut() {
        // An address stays as written; any other first word starts upper case.
        if !first.text.contains('@') {
            let mut chars = first.text.chars();
            if let Some(c) = chars.next() {
                first.text = c.to_uppercase().chain(chars).collect();
            }
        }
    }
    segments
}

/// One audit entry, as the page reads it.
pub struct AuditRecord<'a> {
    pub action: &'a str,
    pub actor_user_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub actor_api_key_id: Option<&'a str>,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub details: Option<&'a Value>,
}

/// The entry as a sentence.
pub fn audit_sentence(entry: &AuditRecord<'_>, names: &Names<'_>) -> Vec<Segment> {
    let d = entry.details;
    let actor = if let Some(email) = entry.actor_email {
        names.person(entry.actor_user_id, Some(email))
    } else if let Some(key) = entry.actor_api_key_id {
        names.key(key, None)
    } else if entry.actor_user_id.is_some() {
        text("a deleted account")
    } else {
        text("the system")
    };
    let target_id = entry.target_id.unwrap_or("");
    let target = || -> Segment {
        match entry.target_type.unwrap_or("") {
            "api_key" => names.key(target_id, field(d, "name")),
            "webhook_endpoint" => names.endpoint(
                target_id,
                field(d, "url"),
                entry.action != "webhook_endpoint.deleted",
            ),
            "user" => names.person(Some(target_id), field(d, "email")),
            "billing_cycle" => names.invoice(target_id, field(d, "period")),
            "organization" => link("the organization's settings", names.page("/settings")),
            "invitation" => match field(d, "email") {
                Some(email) => link(format!("the invitation of {email}"), names.page("/team")),
                None => link("an invitation", names.page("/team")),
            },
            "" => text("—"),
            other => text(format!("{} {target_id}", other.replace('_', " "))),
        }
    };
    let role = field(d, "role").unwrap_or("member");
    let said = |words: &str| vec![actor.clone(), text(format!(" {words}"))];
    let on = |words: &str| vec![actor.clone(), text(format!(" {words} ")), target()];
    let sentence = match entry.action {
        "api_key.created" => on("created"),
        "api_key.revoked" => match field(d, "reason") {
            Some(reason) => {
                let mut s = on("revoked");
                s.push(text(format!(" ({})", reason.replace('_', " "))));
                s
            }
            None => on("revoked"),
        },
        "api_key.transferred" => on("took over"),
        "auth.register" => said("signed up"),
        "auth.login" => said("signed in"),
        "auth.login_failed" => match field(d, "email") {
            Some(email) => vec![text(format!("a sign-in as {email} failed"))],
            None => vec![text("a sign-in failed")],
        },
        "auth.logout" => said("signed out"),
        "auth.email_verified" => said("verified their email address"),
        "auth.password_changed" => said("changed their password"),
        "auth.password_reset_requested" => said("asked for a password reset link"),
        "auth.password_reset" => said("reset their password"),
        "auth.name_changed" => said("changed their name"),
        "auth.session_revoked" => said("signed out one of their sessions"),
        "auth.sessions_revoked" => said("signed out their other sessions"),
        "auth.refresh_token_reused" => vec![text(
            "a session token was used twice: the session was closed",
        )],
        "billing.plan_changed" => said(&format!(
            "changed the plan from {} to {}",
            field(d, "from").unwrap_or("?"),
            field(d, "to").unwrap_or("?")
        )),
        "billing.plan_change_scheduled" => said(&format!(
            "scheduled a move from the {} plan to {} at the end of the period",
            field(d, "from").unwrap_or("current"),
            field(d, "to").or(field(d, "plan")).unwrap_or("another")
        )),
        "billing.plan_change_cancelled" => said("cancelled the scheduled plan change"),
        "billing.scheduled_plan_applied" => vec![text(format!(
            "the scheduled move to the {} plan took effect",
            field(d, "to").unwrap_or("new")
        ))],
        "billing.payment_received" => vec![target(), text(" was paid")],
        "billing.duplicate_payment" => {
            vec![text("a second payment arrived for "), target()]
        }
        "organization.updated" => on("updated"),
        "team.invited" => vec![
            actor.clone(),
            text(" invited "),
            link(
                field(d, "email").unwrap_or("someone").to_owned(),
                names.page("/team"),
            ),
            text(format!(" as {role}")),
        ],
        "team.invitation_cancelled" => on("cancelled"),
        "team.invitation_accepted" => {
            said(&format!("accepted the invitation and joined as {role}"))
        }
        "team.invitation_declined" => said("declined the invitation"),
        "team.member_left" => said("left the organization"),
        "team.member_removed" => on("removed"),
        "team.role_changed" => {
            let mut s = on("changed the role of");
            s.push(text(format!(
                " from {} to {}",
                field(d, "from").unwrap_or("?"),
                field(d, "to").unwrap_or("?")
            )));
            s
        }
        "team.ownership_transferred" => on("handed the ownership to"),
        "webhook_endpoint.created" => on("created"),
        "webhook_endpoint.updated" => on("changed"),
        "webhook_endpoint.deleted" => on("deleted"),
        "webhook_endpoint.recovered" => on("re-enabled"),
        "webhook_endpoint.secret_rotated" => on("rotated the signing secret of"),
        "webhook_endpoint.secret_viewed" => on("viewed the signing secret of"),
        "webhook_endpoint.tested" => on("sent a test message to"),
        "webhook_message.resent" => on("resent a message to"),
        action => {
            let words = action.replace(['.', '_'], " ");
            match entry.target_type {
                Some(_) => {
                    let mut s = said(&format!("— {words} —"));
                    s.push(text(" "));
                    s.push(target());
                    s
                }
                None => said(&format!("— {words}")),
            }
        }
    };
    capitalized(sentence)
}

fn money(payload: &Value) -> Option<String> {
    let amount = payload.get("amount")?.as_i64()?;
    let currency = payload.get("currency")?.as_str()?.to_uppercase();
    let sign = if amount < 0 { "-" } else { "" };
    let cents = amount.unsigned_abs();
    Some(format!(
        "{sign}{}.{:02} {currency}",
        crate::records::grouped(cents / 100),
        cents % 100
    ))
}

/// `1234567` as `1,234,567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An event as a sentence; `description` (the catalog's) for a type
/// without its own.
pub fn event_sentence(
    event_type: &str,
    payload: &Value,
    description: &str,
    names: &Names<'_>,
) -> Vec<Segment> {
    let p = Some(payload);
    let s = |name: &str| field(p, name);
    let person = |id: &str, email: Option<&str>| names.person(s(id), email);
    let invoice = || names.invoice(s("invoice_id").unwrap_or(""), s("period"));
    let amount = money(payload).unwrap_or_default();
    let sentence = match event_type {
        "organization.updated" => vec![
            person("updated_by", None),
            text(" updated "),
            link("the organization's settings", names.page("/settings")),
        ],
        "member.added" => vec![
            person("user_id", s("email")),
            text(format!(" joined as {}", s("role").unwrap_or("member"))),
        ],
        "member.removed" => vec![person("user_id", None), text(" left the organization")],
        "member.role_changed" => vec![
            person("changed_by", None),
            text(" changed the role of "),
            person("user_id", None),
            text(format!(
                " from {} to {}",
                s("previous_role").unwrap_or("?"),
                s("role").unwrap_or("?")
            )),
        ],
        "invitation.created" => vec![
            person("invited_by", None),
            text(" invited "),
            link(
                s("email").unwrap_or("someone").to_owned(),
                names.page("/team"),
            ),
            text(format!(" as {}", s("role").unwrap_or("member"))),
        ],
        "invitation.accepted" => vec![
            person("user_id", s("email")),
            text(format!(
                " accepted the invitation and joined as {}",
                s("role").unwrap_or("member")
            )),
        ],
        "api_key.created" => vec![
            person("created_by", None),
            text(" created "),
            names.key(s("api_key_id").unwrap_or(""), s("name")),
        ],
        "api_key.revoked" => match s("revoked_by") {
            Some(_) => vec![
                person("revoked_by", None),
                text(" revoked "),
                names.key(s("api_key_id").unwrap_or(""), s("name")),
            ],
            None => vec![
                names.key(s("api_key_id").unwrap_or(""), s("name")),
                text(" was revoked"),
            ],
        },
        "usage.threshold_reached" => {
            let number = |name: &str| {
                payload
                    .get(name)
                    .and_then(Value::as_u64)
                    .map(grouped)
                    .unwrap_or_default()
            };
            vec![text(format!(
                "{}% of the included requests are used: {} of {} in {}",
                payload.get("percent").and_then(Value::as_i64).unwrap_or(0),
                number("used"),
                number("quota"),
                s("period").unwrap_or("this period")
            ))]
        }
        "invoice.created" => vec![invoice(), text(format!(" was issued: {amount}"))],
        "invoice.overdue" => vec![invoice(), text(format!(" is overdue: {amount}"))],
        "invoice.paid" => vec![invoice(), text(format!(" was paid: {amount}"))],
        "payment.succeeded" => {
            let mut s = vec![text(format!(
                "a payment of {amount} through {} succeeded",
                field(p, "provider").unwrap_or("the provider")
            ))];
            if field(p, "invoice_id").is_some() {
                s.push(text(" for "));
                s.push(invoice());
            }
            s
        }
        "payment.failed" => vec![text(format!(
            "a payment of {amount} through {} failed{}",
            s("provider").unwrap_or("the provider"),
            s("reason").map(|r| format!(": {r}")).unwrap_or_default()
        ))],
        "message.sent" => vec![text(format!(
            "a message by {} to {} was sent",
            s("channel").unwrap_or("?"),
            s("to").unwrap_or("?")
        ))],
        "message.failed" => vec![text(format!(
            "a message by {} to {} failed{}",
            s("channel").unwrap_or("?"),
            s("to").unwrap_or("?"),
            s("reason").map(|r| format!(": {r}")).unwrap_or_default()
        ))],
        "webhook.test" => vec![
            person("sent_by", None),
            text(" sent a test message to "),
            names.endpoint(s("endpoint_id").unwrap_or(""), None, true),
        ],
        _ => vec![text(description.trim_end_matches('.').to_owned())],
    };
    capitalized(sentence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain(segments: &[Segment]) -> String {
        segments.iter().map(|s| s.text.as_str()).collect()
    }

    fn members() -> HashMap<String, String> {
        HashMap::from([("usr_1".to_owned(), "alice@example.com".to_owned())])
    }

    #[test]
    fn audit_entries_read_as_sentences_with_links() {
        let members = members();
        let names = Names {
            organization: "org_1",
            members: &members,
        };
        let details = json!({ "name": "ci", "prefix": "sk_live_ab" });
        let entry = AuditRecord {
            action: "api_key.created",
            actor_user_id: Some("usr_1"),
            actor_email: Some("alice@example.com"),
            actor_api_key_id: None,
            target_type: Some("api_key"),
            target_id: Some("key_9"),
            details: Some(&details),
        };
        let sentence = audit_sentence(&entry, &names);
        assert_eq!(plain(&sentence), "alice@example.com created API key ‘ci’");
        assert_eq!(sentence[0].href.as_deref(), Some("/o/org_1/team"));
        assert_eq!(sentence[2].href.as_deref(), Some("/o/org_1/keys/key_9"));

        let login = AuditRecord {
            action: "auth.login",
            actor_user_id: None,
            actor_email: None,
            actor_api_key_id: None,
            target_type: None,
            target_id: None,
            details: None,
        };
        assert_eq!(
            plain(&audit_sentence(&login, &names)),
            "The system signed in"
        );
        let paid = json!({ "amount": 1000 });
        let payment = AuditRecord {
            action: "billing.payment_received",
            target_type: Some("billing_cycle"),
            target_id: Some("cyc_1"),
            details: Some(&paid),
            ..login
        };
        let sentence = audit_sentence(&payment, &names);
        assert_eq!(plain(&sentence), "An invoice was paid");
        assert_eq!(
            sentence[0].href.as_deref(),
            Some("/o/org_1/billing/invoices/cyc_1")
        );
    }

    #[test]
    fn events_read_as_sentences() {
        let members = members();
        let names = Names {
            organization: "org_1",
            members: &members,
        };
        let paid = json!({ "invoice_id": "cyc_1", "period": "2026-11", "amount": 123_456, "currency": "usd" });
        let sentence = event_sentence("invoice.paid", &paid, "", &names);
        assert_eq!(
            plain(&sentence),
            "The invoice for 2026-11 was paid: 1,234.56 USD"
        );
        let created = json!({ "api_key_id": "key_9", "name": "ci", "created_by": "usr_1" });
        let sentence = event_sentence("api_key.created", &created, "", &names);
        assert_eq!(plain(&sentence), "alice@example.com created API key ‘ci’");
        let threshold = json!({ "percent": 80, "used": 8000, "quota": 10000, "period": "2026-12" });
        assert_eq!(
            plain(&event_sentence(
                "usage.threshold_reached",
                &threshold,
                "",
                &names
            )),
            "80% of the included requests are used: 8,000 of 10,000 in 2026-12"
        );
        assert_eq!(
            plain(&event_sentence(
                "parcel.shipped",
                &json!({}),
                "A parcel left.",
                &names
            )),
            "A parcel left"
        );
        assert_eq!(grouped(1_000), "1,000");
    }
}
