//! Mail templates: for each, a subject, a plain-text body and an HTML body
//! (extending `layout.html`). Mail's own are embedded in the binary from
//! `templates/`; a module declares its own as [`ModuleTemplate`]s, which the
//! binary registers on the [`Mailer`](crate::Mailer) that renders them.

use std::borrow::Cow;
use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::MailError;

/// Which mail to send: one of mail's own templates, or one a module
/// declares. A job's payload names it (`"welcome"`, `"invoice"`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// A module's template, by its name ([`ModuleTemplate::template`]):
    /// rendered only where that module's templates are registered.
    Module(Cow<'static, str>),
}

impl Template {
    /// Mail's own templates.
    pub const ALL: [Template; 9] = [
        Template::Welcome,
        Template::EmailVerification,
        Template::PasswordReset,
        Template::TeamInvitation,
        Template::Invoice,
        Template::PaymentReceipt,
        Template::OverduePayment,
        Template::OperatorAlert,
        Template::WebhookEndpointDisabled,
    ];

    pub fn as_str(&self) -> &str {
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
            Template::Module(name) => name,
        }
    }

    /// The template named `name`: one of mail's own, or a module's.
    pub fn named(name: &str) -> Template {
        Template::ALL
            .into_iter()
            .find(|template| template.as_str() == name)
            .unwrap_or_else(|| Template::Module(Cow::Owned(name.to_string())))
    }
}

/// By name, as job payloads have always carried it.
impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Template::named(&name))
    }
}

/// A mail template a module declares: its name (unique, prefixed with the
/// module's) and its three files, typically `include_str!`ed.
#[derive(Debug, Clone, Copy)]
pub struct ModuleTemplate {
    pub name: &'static str,
    pub subject: &'static str,
    pub text: &'static str,
    /// Extends `layout.html`, like mail's own.
    pub html: &'static str,
}

impl ModuleTemplate {
    /// What a [`Mail`](crate::Mail) names to be sent with this template.
    pub const fn template(&self) -> Template {
        Template::Module(Cow::Borrowed(self.name))
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

/// The templates a mailer renders: mail's own and the modules' registered.
pub struct Templates {
    env: Environment<'static>,
    /// Names of the modules' templates registered.
    modules: BTreeSet<&'static str>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// Mail's own templates and the layout.
    pub fn new() -> Self {
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
        );
        let layout = ("layout.html", include_str!("../templates/layout.html"));
        for (name, source) in files.into_iter().chain([layout]) {
            if let Err(error) = env.add_template(name, source) {
                // Templates are compiled into the binary and covered by
                // tests; a syntax error here is a build defect.
                tracing::error!(name, %error, "mail template does not compile");
            }
        }
        Self {
            env,
            modules: BTreeSet::new(),
        }
    }

    /// Adds a module's template: refused if its name is taken or a file
    /// does not compile.
    pub fn register(&mut self, template: &ModuleTemplate) -> Result<(), MailError> {
        let name = template.name;
        let taken =
            self.modules.contains(name) || Template::ALL.iter().any(|own| own.as_str() == name);
        if taken {
            return Err(MailError::Register {
                template: name.to_string(),
                message: "another template has this name".to_string(),
            });
        }
        for (suffix, source) in [
            ("subject", template.subject),
            ("txt", template.text),
            ("html", template.html),
        ] {
            self.env
                .add_template_owned(format!("{name}.{suffix}"), source)
                .map_err(|e| MailError::Register {
                    template: format!("{name}.{suffix}"),
                    message: format!("{e}"),
                })?;
        }
        self.modules.insert(name);
        Ok(())
    }

    /// Renders `template` with `context`; a module's template that is not
    /// registered is an error.
    pub fn render(&self, template: &Template, context: &Value) -> Result<Rendered, MailError> {
        if let Template::Module(name) = template {
            if !self.modules.contains(name.as_ref()) {
                return Err(MailError::UnknownTemplate(name.to_string()));
            }
        }
        let part = |suffix: &str| -> Result<String, MailError> {
            let name = format!("{}.{suffix}", template.as_str());
            self.env
                .get_template(&name)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &Template, context: &Value) -> Result<Rendered, MailError> {
        Templates::new().render(template, context)
    }

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
            let rendered = render(&template, &full_context())
                .unwrap_or_else(|e| panic!("{}: {e}", template.as_str()));
            assert!(!rendered.subject.is_empty(), "{}", template.as_str());
            assert!(!rendered.subject.contains('\n'), "{}", template.as_str());
            assert!(rendered.html.contains("<html"), "{}", template.as_str());
            assert!(!rendered.text.contains("<p>"), "{}", template.as_str());
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let rendered = render(&Template::Welcome, &full_context()).unwrap();
        assert!(rendered.html.contains("Ada &lt;script&gt;"));
        assert!(rendered.html.contains("Acme &amp; Co"));
        assert!(rendered.text.contains("Acme & Co"));
    }

    /// Values a caller may not have: a person without a name, an inviter
    /// without a name, the product name.
    const OPTIONAL: [&str; 4] = ["name", "inviter_name", "inviter_email", "product"];

    fn assert_reads_right(template: &Template, rendered: &Rendered, case: &str) {
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
                let rendered = render(&template, &context)
                    .unwrap_or_else(|e| panic!("{} ({case}): {e}", template.as_str()));
                assert_reads_right(&template, &rendered, case);
            }
        }
        // Without the inviter's name, the invitation names their address.
        let mut context = full_context();
        context["inviter_name"] = Value::Null;
        let rendered = render(&Template::TeamInvitation, &context).unwrap();
        assert_eq!(rendered.subject, "grace@acme.test invited you to Acme & Co");
        assert!(rendered
            .text
            .contains("grace@acme.test invited you to join"));
    }

    #[test]
    fn every_template_reads_right_with_every_value_present() {
        for template in Template::ALL {
            let rendered = render(&template, &full_context()).unwrap();
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
        let invitation = render(&Template::TeamInvitation, &full_context()).unwrap();
        assert_eq!(invitation.subject, "Grace invited you to Acme & Co");
    }

    #[test]
    fn a_missing_value_is_an_error() {
        let error = render(
            &Template::PasswordReset,
            &serde_json::json!({"name": "Ada"}),
        )
        .unwrap_err();
        assert!(matches!(error, MailError::Render { .. }));
    }

    const GREETING: ModuleTemplate = ModuleTemplate {
        name: "module_greeting",
        subject: "Hi {{ organization_name }}",
        text: "Hello,\n\n{{ link }}\n",
        html: "{% extends \"layout.html\" %}{% block content %}<p>{{ link }}</p>{% endblock %}",
    };

    #[test]
    fn a_registered_module_template_renders_in_the_layout() {
        let mut templates = Templates::new();
        templates.register(&GREETING).unwrap();
        let context = full_context();
        let rendered = templates.render(&GREETING.template(), &context).unwrap();
        assert_eq!(rendered.subject, "Hi Acme & Co");
        assert!(rendered.text.starts_with("Hello,"));
        assert!(rendered.html.contains("<html"));
        assert!(rendered.html.contains("Sent by Acme Cloud."));
    }

    #[test]
    fn an_unknown_or_taken_template_name_is_an_error() {
        let error = Templates::new()
            .render(&Template::named("module_greeting"), &full_context())
            .unwrap_err();
        assert!(matches!(error, MailError::UnknownTemplate(ref name) if name == "module_greeting"));
        let mut templates = Templates::new();
        templates.register(&GREETING).unwrap();
        assert!(matches!(
            templates.register(&GREETING),
            Err(MailError::Register { .. })
        ));
        let own = ModuleTemplate {
            name: "welcome",
            ..GREETING
        };
        assert!(matches!(
            templates.register(&own),
            Err(MailError::Register { .. })
        ));
        let broken = ModuleTemplate {
            name: "module_broken",
            subject: "{{ unclosed",
            ..GREETING
        };
        assert!(matches!(
            templates.register(&broken),
            Err(MailError::Register { .. })
        ));
    }

    #[test]
    fn a_template_travels_by_name() {
        for template in Template::ALL {
            let json = serde_json::to_value(&template).unwrap();
            assert_eq!(json, Value::String(template.as_str().to_string()));
            assert_eq!(serde_json::from_value::<Template>(json).unwrap(), template);
        }
        assert_eq!(
            serde_json::to_value(Template::PasswordReset).unwrap(),
            "password_reset"
        );
        let module: Template = serde_json::from_value("module_greeting".into()).unwrap();
        assert_eq!(module, GREETING.template());
        assert_eq!(serde_json::to_value(&module).unwrap(), "module_greeting");
    }
}
