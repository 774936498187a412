//! The console's templates, compiled into the binary (minijinja, HTML
//! auto-escaped by the `.html` names): the shell's own, and those each
//! registered module brings. The environment is one per process: the
//! templates are constants of the binary, and a module whose templates
//! are registered but whose routes are not serves nothing.

use std::sync::{OnceLock, PoisonError, RwLock};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::format;
use crate::web::{copy_script_version, nav_script_version, stylesheet_version, PageError};

/// A template's values.
pub type Context = Map<String, Value>;

/// A module's templates: `(name, source)` pairs.
pub type Templates = &'static [(&'static str, &'static str)];

const PRODUCT: &str = "Landlord";

macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

fn environment() -> &'static RwLock<Environment<'static>> {
    static ENV: OnceLock<RwLock<Environment<'static>>> = OnceLock::new();
    ENV.get_or_init(|| RwLock::new(shell_environment()))
}

/// The shell's environment: its globals and its own templates.
fn shell_environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Optional values (a form's errors, the signed-in session) may be
    // absent; reading into them renders nothing.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.add_global("product", PRODUCT);
    env.add_global("css_version", stylesheet_version());
    env.add_global("copy_js_version", copy_script_version());
    env.add_global("nav_js_version", nav_script_version());
    // Times and figures as people read them (see `format`).
    env.add_filter("ago", format::ago_filter);
    env.add_filter("utc", format::utc_filter);
    env.add_filter("when", format::when_filter);
    env.add_filter("thousands", format::thousands_filter);
    add(&mut env, SHELL_TEMPLATES);
    env
}

const SHELL_TEMPLATES: Templates = template_files!(
    "layout.html",
    "macros.html",
    "error.html",
    "message.html",
    "sign_up.html",
    "sign_in.html",
    "verify_email.html",
    "forgot_password.html",
    "reset_password.html",
    "account.html",
    "sessions.html",
    "operator_nav.html",
    "new_organization.html",
    "widgets.html",
);

fn add(env: &mut Environment<'static>, templates: Templates) {
    for (name, source) in templates {
        if let Err(error) = env.add_template(name, source) {
            // Compiled in and rendered by the tests: a build defect.
            tracing::error!(name, %error, "console template does not compile");
        }
    }
}

/// Adds a module's templates to the environment.
pub(crate) fn register(templates: Templates) {
    let mut env = environment()
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    add(&mut env, templates);
}

/// Checks that `templates` compile beside the shell's (a module's unit
/// test): the first failure, named.
pub fn check_templates(templates: Templates) -> Result<(), String> {
    let mut env = shell_environment();
    for (name, source) in templates {
        env.add_template(name, source)
            .map_err(|error| format!("{name}: {error}"))?;
    }
    for (name, _) in templates {
        env.get_template(name)
            .map_err(|error| format!("{name}: {error}"))?;
    }
    Ok(())
}

/// An empty context.
pub fn context() -> Context {
    Map::new()
}

/// Renders `name` with `context`.
pub fn render(name: &str, context: Context) -> Result<String, PageError> {
    let env = environment().read().unwrap_or_else(PoisonError::into_inner);
    env.get_template(name)
        .and_then(|template| template.render(Value::Object(context)))
        .map_err(|error| {
            PageError::Api(landlord_core::ApiError::internal(anyhow_free(format!(
                "console template {name}: {error}"
            ))))
        })
}

fn anyhow_free(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = shell_environment();
        for (name, _) in env.templates() {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
        assert!(env.templates().count() >= 10);
    }

    #[test]
    fn filters_are_registered() {
        let mut env = shell_environment();
        env.add_template(
            "t.html",
            "{{ n|thousands }} {{ t|utc }} {{ t|when }} {{ 'later'|ago }}",
        )
        .unwrap();
        let text = env
            .get_template("t.html")
            .unwrap()
            .render(minijinja::context! { n => 1234567, t => "2026-12-06T09:40:00Z" })
            .unwrap();
        assert!(text.starts_with("1,234,567 2026-12-06 09:40:00 UTC <time datetime=\"2026-12-06T09:40:00.000Z\" title=\"2026-12-06 09:40:00 UTC\">"), "{text}");
        assert!(text.ends_with("</time> later"), "{text}");
    }

    #[test]
    fn the_usage_chart_renders_axes_quota_and_table() {
        let days: Vec<crate::chart::Day> = (1..=31)
            .map(|d| crate::chart::Day {
                date: format!("2026-12-{d:02}"),
                requests: 400,
            })
            .collect();
        let chart =
            crate::chart::usage_chart(&days, "2026-12-05", Some(10_000), "Included in the plan");
        let mut env = shell_environment();
        env.add_template(
            "t.html",
            "{% import 'widgets.html' as w %}{{ w.usage_chart(chart, 'c') }}",
        )
        .unwrap();
        let html = env
            .get_template("t.html")
            .unwrap()
            .render(minijinja::context! { chart => chart })
            .unwrap();
        for expected in [
            "class=\"axis x\"",
            "class=\"axis y\"",
            "class=\"quota\"",
            "Included in the plan: 10,000",
            "<title>2026-12-05: 400 requests, 2,000 this month so far</title>",
            "<th scope=\"col\" class=\"num\">This month so far</th>",
            "December 2026",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
    }
}
