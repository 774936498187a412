//! The marketplace's mails, declared here and registered by the binary on
//! the mailer that renders them (in mail's layout).

use landlord_mail::ModuleTemplate;

/// A buyer's order was paid (`order_id`, `amount`, `link`).
pub const ORDER_PAID: ModuleTemplate = ModuleTemplate {
    name: "marketplace_order_paid",
    subject: include_str!("../templates/mail/marketplace_order_paid.subject"),
    text: include_str!("../templates/mail/marketplace_order_paid.txt"),
    html: include_str!("../templates/mail/marketplace_order_paid.html"),
};

/// A store has a new paid order (`store_name`, `order_id`, `amount`,
/// `earnings`, `link`).
pub const NEW_ORDER: ModuleTemplate = ModuleTemplate {
    name: "marketplace_new_order",
    subject: include_str!("../templates/mail/marketplace_new_order.subject"),
    text: include_str!("../templates/mail/marketplace_new_order.txt"),
    html: include_str!("../templates/mail/marketplace_new_order.html"),
};

/// Every mail template of the marketplace.
pub const TEMPLATES: [ModuleTemplate; 2] = [ORDER_PAID, NEW_ORDER];

#[cfg(test)]
mod tests {
    use super::*;
    use landlord_mail::{Rendered, Templates};
    use serde_json::Value;

    fn templates() -> Templates {
        let mut templates = Templates::new();
        for template in &TEMPLATES {
            templates.register(template).unwrap();
        }
        templates
    }

    fn full_context() -> Value {
        serde_json::json!({
            "link": "https://app.test/x?token=t",
            "product": "Acme Cloud",
            "amount": "$60.00",
            "order_id": "0193a1b2-0000-7000-8000-000000000001",
            "store_name": "Green Grocer",
            "earnings": "$54.00",
        })
    }

    fn assert_reads_right(name: &str, rendered: &Rendered, sent_by: &str) {
        assert!(!rendered.subject.is_empty(), "{name}");
        assert!(!rendered.subject.contains('\n'), "{name}");
        assert!(rendered.html.contains("<html"), "{name}");
        assert!(!rendered.text.contains("<p>"), "{name}");
        for part in [&rendered.subject, &rendered.text, &rendered.html] {
            for word in ["None", "none", "null", "undefined", "Null", "NULL"] {
                assert!(!part.contains(word), "{name}: {word:?} in {part}");
            }
            assert!(!part.contains(" ,"), "{name}: {part}");
        }
        assert!(rendered.text.starts_with("Hello,"), "{name}");
        assert!(rendered.html.contains(sent_by), "{name}: {}", rendered.html);
    }

    #[test]
    fn every_template_renders_in_the_mail_layout() {
        let templates = templates();
        for template in &TEMPLATES {
            let rendered = templates
                .render(&template.template(), &full_context())
                .unwrap_or_else(|e| panic!("{}: {e}", template.name));
            assert_reads_right(template.name, &rendered, "Sent by Acme Cloud.");
            // Without the product's name, or with it empty or null.
            for product in [None, Some(Value::Null), Some(Value::String(String::new()))] {
                let mut context = full_context();
                match product {
                    None => context.as_object_mut().unwrap().remove("product"),
                    Some(value) => context
                        .as_object_mut()
                        .unwrap()
                        .insert("product".into(), value),
                };
                let rendered = templates.render(&template.template(), &context).unwrap();
                assert_reads_right(template.name, &rendered, "Sent by Landlord.");
            }
        }
    }

    #[test]
    fn a_missing_value_is_an_error() {
        let templates = templates();
        for template in &TEMPLATES {
            let error = templates
                .render(&template.template(), &serde_json::json!({}))
                .unwrap_err();
            assert!(
                matches!(error, landlord_mail::MailError::Render { .. }),
                "{}",
                template.name
            );
        }
    }
}
