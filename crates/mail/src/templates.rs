//! Mail templates: for each, a subject, a plain-text body and an HTML body
//! (extending `layout.html`), embedded in the binary from `templates/`.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MailError;

/// Every mail Landlord sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Welcome,
    EmailVerification,
    PasswordReset,
    TeamInvitation,
    Invoice,
    PaymentReceipt,
    OverduePayment,
    /// An operator alert fired or resolved (`alert_status`, `rule`,
    /// `severity`, `value`, `threshold`, `at`).
    OperatorAlert,
    /// An organization's webhook endpoint was disabled (`organization_name`,
    /// `url`, `reason`, `link`).
    WebhookEndpointDisabled,
    /// Marketplace: a buyer's order was paid (`order_id`, `amount`, `link`).
    MarketplaceOrderPaid,
    /// Marketplace: a store has a new paid order (`store_name`,
    /// `order_id`, `amount`, `earnings`, `link`).
    MarketplaceNewOrder,
}

impl Template {
    pub const ALL: [Template; 11] = [
        Template::Welcome,
        Template::EmailVerification,
        Template::PasswordReset,
        Template::TeamInvitation,
        Template::Invoice,
        Template::PaymentReceipt,
        Template::OverduePayment,
        Template::OperatorAlert,
        Template::WebhookEndpointDisabled,
        Template::MarketplaceOrderPaid,
        Template::MarketplaceNewOrder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Template::Welcome => "welcome",
            Template::EmailVerification => "email_verification",
            Template::PasswordReset => "password_reset",
            Template::TeamInvitation => "team_invitation",
            Template::Invoice => "invoice",
            Template::PaymentReceipt => "payment_receipt",
            Template::OverduePayment => "overdue_payment",
            Template::OperatorAlert => "operator_alert",
            Template::WebhookEndpointDisabled => "webhook_endpoint_disabled",
            Template::MarketplaceOrderPaid => "marketplace_order_paid",
            Template::MarketplaceNewOrder => "marketplace_new_order",
        }
    }
}

/// A rendered mail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        [$(
            (concat!($name, ".subject"), include_str!(concat!("../templates/", $name, ".subject"))),
            (concat!($name, ".txt"), include_str!(concat!("../templates/", $name, ".txt"))),
            (concat!($name, ".html"), include_str!(concat!("../templates/", $name, ".html"))),
        )*]
    };
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A template asking for a value the caller did not give is a bug
        // to surface (the job fails and says so), not a blank in a mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let files = template_files!(
            "welcome",
            "email_verification",
            "password_reset",
            "team_invitation",
            "invoice",
            "payment_receipt",
            "overdue_payment",
            "operator_alert",
            "webhook_endpoint_disabled",
            "marketplace_order_paid",
            "marketplace_new_order",
        );
        let layout = ("layout.html", include_str!("../templates/layout.html"));
        for (name, source) in files.into_iter().chain([layout]) {
            if let Err(error) = env.add_template(name, source) {
                // Templates are compiled into the binary and covered by
                // tests; a syntax error here is a build defect.
                tracing::error!(name, %error, "mail template does not compile");
            }
        }
        env
    })
}

/// Renders `template` with `context`.
pub fn render(template: Template, context: &Value) -> Result<Rendered, MailError> {
    let env = environment();
    let part = |suffix: &str| -> Result<String, MailError> {
        let name = format!("{}.{suffix}", template.as_str());
        env.get_template(&name)
            .and_then(|t| t.render(context))
            // `{e}`, not `{e:#}`: the alternate form lists the context's
            // values (tokens among them), and this error reaches the log
            // and the job's `last_error`.
            .map_err(|e| MailError::Render {
                template: name.clone(),
                message: format!("{e}"),
            })
    };
    Ok(Rendered {
        subject: part("subject")?.trim().to_string(),
        text: part("txt")?,
        html: part("html")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_context() -> Value {
        serde_json::json!({
            "name": "Ada <script>",
            "organization_name": "Acme & Co",
            "link": "https://app.test/x?token=t",
            "token": "t",
            "inviter_name": "Grace",
            "inviter_email": "grace@acme.test",
            "product": "Acme Cloud",
            "role": "admin",
            "period": "2026-10",
            "plan": "starter",
            "requests": 15000,
            "amount": "$60.00",
            "due_date": "2026-11-15",
            "provider": "stripe",
            "reference": "cs_123",
            "alert_status": "FIRING",
            "rule": "dead_jobs",
            "severity": "warning",
            "value": "2.00",
            "threshold": "0.00",
            "at": "2026-11-25T04:00:00.000Z",
            "url": "https://hooks.acme.test/landlord",
            "reason": "failing since 2026-11-20",
            "order_id": "0193a1b2-0000-7000-8000-000000000001",
            "store_name": "Green Grocer",
            "earnings": "$54.00",
        })
    }

    #[test]
    fn every_template_renders_subject_text_and_html() {
        for template in Template::ALL {
            let rendered = render(template, &full_context())
                .unwrap_or_else(|e| panic!("{}: {e}", template.as_str()));
            assert!(!rendered.subject.is_empty(), "{}", template.as_str());
            assert!(!rendered.subject.contains('\n'), "{}", template.as_str());
            assert!(rendered.html.contains("<html"), "{}", template.as_str());
            assert!(!rendered.text.contains("<p>"), "{}", template.as_str());
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let rendered = render(Template::Welcome, &full_context()).unwrap();
        assert!(rendered.html.contains("Ada &lt;script&gt;"));
        assert!(rendered.html.contains("Acme &amp; Co"));
        assert!(rendered.text.contains("Acme & Co"));
    }

    /// Values a caller may not have: a person without a name, an inviter
    /// without a name, the product name.
    const OPTIONAL: [&str; 4] = ["name", "inviter_name", "inviter_email", "product"];

    fn assert_reads_right(template: Template, rendered: &Rendered, case: &str) {
        let what = format!("{} ({case})", template.as_str());
        for part in [&rendered.subject, &rendered.text, &rendered.html] {
            for word in ["None", "none", "null", "undefined", "Null", "NULL"] {
                assert!(!part.contains(word), "{what}: {word:?} in {part}");
            }
            assert!(!part.contains("Hello ,"), "{what}: {part}");
            assert!(!part.contains(" ,"), "{what}: {part}");
        }
        assert!(
            rendered.text.starts_with("Hello,"),
            "{what}: the text greets with \"Hello,\": {}",
            rendered.text
        );
        assert!(
            rendered.html.contains("Sent by Landlord."),
            "{what}: {}",
            rendered.html
        );
    }

    #[test]
    fn every_template_reads_right_with_every_optional_value_absent() {
        for template in Template::ALL {
            // Absent keys, then the same keys present as null (a Rust
            // `None`), then as empty strings.
            let mut missing = full_context();
            for key in OPTIONAL {
                missing.as_object_mut().unwrap().remove(key);
            }
            let mut nulls = full_context();
            let mut empty = full_context();
            for key in OPTIONAL {
                nulls[key] = Value::Null;
                empty[key] = Value::String(String::new());
            }
            for (case, context) in [("absent", missing), ("null", nulls), ("empty", empty)] {
                let rendered = render(template, &context)
                    .unwrap_or_else(|e| panic!("{} ({case}): {e}", template.as_str()));
                assert_reads_right(template, &rendered, case);
            }
        }
        // Without the inviter's name, the invitation names their address.
        let mut context = full_context();
        context["inviter_name"] = Value::Null;
        let rendered = render(Template::TeamInvitation, &context).unwrap();
        assert_eq!(rendered.subject, "grace@acme.test invited you to Acme & Co");
        assert!(rendered
            .text
            .contains("grace@acme.test invited you to join"));
    }

    #[test]
    fn every_template_reads_right_with_every_value_present() {
        for template in Template::ALL {
            let rendered = render(template, &full_context()).unwrap();
            for part in [&rendered.subject, &rendered.text, &rendered.html] {
                for word in ["None", "none", "null", "undefined"] {
                    assert!(
                        !part.contains(word),
                        "{}: {word:?} in {part}",
                        template.as_str()
                    );
                }
            }
            assert!(rendered.html.contains("Sent by Acme Cloud."));
            let greets_by_name = matches!(
                template,
                Template::Welcome | Template::EmailVerification | Template::PasswordReset
            );
            if greets_by_name {
                assert!(
                    rendered.text.starts_with("Hello Ada <script>,"),
                    "{}: {}",
                    template.as_str(),
                    rendered.text
                );
            } else {
                assert!(rendered.text.starts_with("Hello,"), "{}", template.as_str());
            }
        }
        let invitation = render(Template::TeamInvitation, &full_context()).unwrap();
        assert_eq!(invitation.subject, "Grace invited you to Acme & Co");
    }

    #[test]
    fn a_missing_value_is_an_error() {
        let error =
            render(Template::PasswordReset, &serde_json::json!({"name": "Ada"})).unwrap_err();
        assert!(matches!(error, MailError::Render { .. }));
    }
}
