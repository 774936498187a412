//! Enums stored as text (roles, statuses): one declaration gives the
//! variants' names, parsing, serde and sqlx (decoded from the database,
//! refusing an unknown value instead of carrying a stray string along).

/// `text_enum!(pub enum Status { Pending = "pending", Paid = "paid" })`.
#[macro_export]
macro_rules! text_enum {
    ($(#[$doc:meta])* $vis:vis enum $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        // By hand rather than derived: the derive does not see the
        // variants' names through this macro, and the document must list
        // exactly the stored texts.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        // Read on the calling thread (see `landlord_core::sqlite_reader`).
        impl $crate::sqlite_reader::rusqlite::types::FromSql for $name {
            fn column_result(
                value: $crate::sqlite_reader::rusqlite::types::ValueRef<'_>,
            ) -> $crate::sqlite_reader::rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                Self::parse(text).ok_or_else(|| {
                    $crate::sqlite_reader::rusqlite::types::FromSqlError::Other(
                        format!("not a {}: {text:?}", stringify!($name)).into(),
                    )
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str().to_string(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                $name::parse(&text).ok_or_else(|| {
                    format!("{} is not a {}", text, stringify!($name)).into()
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_enum!(
        /// A test status.
        pub enum Status {
            Pending = "pending",
            Paid = "paid",
        }
    );

    #[test]
    fn names_parse_and_serialize() {
        assert_eq!(Status::parse("paid"), Some(Status::Paid));
        assert_eq!(Status::parse("Paid"), None);
        assert_eq!(Status::Pending.as_str(), "pending");
        assert_eq!(serde_json::to_string(&Status::Paid).unwrap(), "\"paid\"");
        assert_eq!(Status::ALL.len(), 2);
        let schema = serde_json::to_value(<Status as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(["pending", "paid"]));
    }
}
