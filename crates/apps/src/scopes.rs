//! The scopes an app may ask for, each with the words the consent page
//! shows. People grant the *person* scopes when they sign in; owners and
//! admins grant the *organization* scopes when they install the app.

use std::collections::BTreeSet;

/// Who grants a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantor {
    /// A person signing in (`openid`, `profile`, `email`, and the
    /// organization's data as that person sees it).
    Person,
    /// An organization installing the app (its server-to-server tokens).
    Organization,
}

/// One scope: its name, the consent page's sentence, who may grant it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub name: &'static str,
    /// Completes "This app will be able to …".
    pub words: &'static str,
    pub person: bool,
    pub organization: bool,
}

/// Every scope, in the order the consent page lists them.
pub const SCOPES: &[Scope] = &[
    Scope {
        name: "openid",
        words: "confirm who you are (your Landlord account id)",
        person: true,
        organization: false,
    },
    Scope {
        name: "profile",
        words: "see your name",
        person: true,
        organization: false,
    },
    Scope {
        name: "email",
        words: "see your email address and whether it is verified",
        person: true,
        organization: false,
    },
    Scope {
        name: "organizations:read",
        words: "see the organization's name, plan and settings",
        person: true,
        organization: true,
    },
    Scope {
        name: "members:read",
        words: "see the organization's members and their roles",
        person: true,
        organization: true,
    },
    Scope {
        name: "usage:read",
        words: "see the organization's API usage and quota",
        person: true,
        organization: true,
    },
    Scope {
        name: "events:read",
        words: "read the organization's events",
        person: true,
        organization: true,
    },
];

/// The scope named `name`, if Landlord has it.
pub fn find(name: &str) -> Option<&'static Scope> {
    SCOPES.iter().find(|s| s.name == name)
}

/// May `grantor` grant `name`?
pub fn grantable(name: &str, grantor: Grantor) -> bool {
    find(name).is_some_and(|s| match grantor {
        Grantor::Person => s.person,
        Grantor::Organization => s.organization,
    })
}

/// A set of scope names, sorted and without repeats (how they are stored
/// and compared: a consent covers a request when the request is a subset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The space-separated `scope` parameter of OAuth (RFC 6749 §3.3).
    pub fn parse(text: &str) -> Self {
        Self(text.split_whitespace().map(str::to_owned).collect())
    }

    pub fn from_names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Self(names.into_iter().map(Into::into).collect())
    }

    /// As stored: a JSON array.
    pub fn from_json(stored: &str) -> Self {
        Self::from_names(serde_json::from_str::<Vec<String>>(stored).unwrap_or_default())
    }

    pub fn to_json(&self) -> String {
        serde_json::Value::from(self.names()).to_string()
    }

    /// The space-separated form OAuth answers with.
    pub fn to_oauth(&self) -> String {
        self.names().join(" ")
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The names Landlord does not know, or that `grantor` may not grant.
    pub fn not_grantable(&self, grantor: Grantor) -> Vec<&str> {
        self.iter().filter(|n| !grantable(n, grantor)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_parse_sort_and_compare() {
        let asked = ScopeSet::parse("  profile openid openid ");
        assert_eq!(asked.to_oauth(), "openid profile");
        assert_eq!(ScopeSet::from_json(&asked.to_json()), asked);
        assert!(asked.is_subset(&ScopeSet::parse("email openid profile")));
        assert!(!ScopeSet::parse("openid usage:read").is_subset(&asked));
    }

    #[test]
    fn grantors_are_kept_apart() {
        assert!(grantable("openid", Grantor::Person));
        assert!(!grantable("openid", Grantor::Organization));
        assert!(grantable("members:read", Grantor::Organization));
        assert_eq!(
            ScopeSet::parse("email billing:write").not_grantable(Grantor::Person),
            vec!["billing:write"]
        );
    }
}
