//! [`Secret`]: a value that must not reach a log through `Debug`.
//!
//! Written here rather than taken from the `secrecy` crate because the
//! configuration must also *serialize* its defaults (figment starts from
//! `Serialized::defaults(Config::default())`), which `secrecy` deliberately
//! refuses; this wrapper serializes and deserializes transparently and only
//! hides the value from `Debug` (and `Display`, which it does not have) —
//! and from serialization inside [`redacted`] (`landlord config`).

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// Shown instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// A secret value: `Debug` prints `[redacted]`; reach the value with
/// [`Secret::expose`], so every use is visible in the code.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

thread_local! {
    /// Set while [`redacted`] runs on this thread.
    static REDACTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every [`Secret`] serialized as `[redacted]` on this
/// thread (what `landlord config` prints); outside it, a secret
/// serializes as its value.
pub fn redacted<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            REDACTING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REDACTING.with(|r| r.replace(true)));
    f()
}

impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if REDACTING.with(Cell::get) {
            serializer.serialize_str(REDACTED)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl Secret<String> {
    /// The secret as a string slice.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

/// Implements `Debug` for a struct that holds secrets (request and answer
/// shapes with passwords, tokens, keys): the listed public fields print as
/// usual, the secret ones as `[redacted]`.
///
/// ```
/// # use landlord_core::debug_redacted;
/// struct Login { email: String, password: String }
/// debug_redacted!(Login { email } secret { password });
/// let shown = format!("{:?}", Login { email: "a@b.c".into(), password: "hunter2".into() });
/// assert_eq!(shown, r#"Login { email: "a@b.c", password: [redacted] }"#);
/// ```
#[macro_export]
macro_rules! debug_redacted {
    ($ty:ident { $($field:ident),* $(,)? } secret { $($secret:ident),* $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &format_args!("{}", $crate::secret::REDACTED)))*
                    .finish()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_serde_is_transparent() {
        let secret = Secret::from("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(
            serde_json::to_string(&secret).unwrap(),
            "\"hunter2-hunter2\""
        );
        let back: Secret<String> = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back.expose_str(), "abc");
    }
}
