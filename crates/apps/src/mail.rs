//! The module's mails, declared here and registered by the binary on the
//! mailer that renders them (in mail's layout).

use landlord_mail::ModuleTemplate;

/// A verified custom domain lost its TXT record and was detached
/// (`domain`, `app_name`, `record_name`, `reason`, `link`).
pub const DOMAIN_DETACHED: ModuleTemplate = ModuleTemplate {
    name: "apps_domain_detached",
    subject: include_str!("../templates/mail/apps_domain_detached.subject"),
    text: include_str!("../templates/mail/apps_domain_detached.txt"),
    html: include_str!("../templates/mail/apps_domain_detached.html"),
};

/// Every mail template of the module.
pub const TEMPLATES: [ModuleTemplate; 1] = [DOMAIN_DETACHED];
