//! Cursor pagination: `?limit=&cursor=` in, `meta.next_cursor` out.
//!
//! Cursors are the id (a time-ordered UUID v7) of the last item of the page,
//! which lists use as a keyset bound: no offset scans, and no item is seen
//! twice when rows are added between pages. Clients treat them as opaque.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::http::response::{ApiSuccess, Meta};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// Like `axum::extract::Query`, but a bad query string is a 422 naming the
/// parameter in the envelope.
///
/// A parameter given with an empty value (`?status=`, or `?status`) is
/// refused too, naming it: an empty enum, number, date or id means
/// nothing, and one rule for every parameter keeps the server and the
/// published document in agreement (the document gives every string
/// parameter `minLength: 1`). Leaving a parameter out is how to not
/// filter. The one exception is [`EMPTY_MEANS_FIRST_PAGE`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// `cursor`: a paging loop naturally starts with an empty cursor, and every
/// list documents an empty one as the first page (its pattern allows it).
pub const EMPTY_MEANS_FIRST_PAGE: &str = "cursor";

/// Parses a query string into `T`, naming the parameter that is empty or
/// of the wrong shape.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = || form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) =
        pairs().find(|(name, value)| value.is_empty() && *name != EMPTY_MEANS_FIRST_PAGE)
    {
        return Err(ApiError::invalid_field(
            &name,
            "must not be empty (leave the parameter out instead)",
        ));
    }
    let deserializer = serde_urlencoded::Deserializer::new(pairs());
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.into_inner().to_string();
        let field = if path != "." && !path.is_empty() {
            path
        } else {
            reason
                .strip_prefix("missing field `")
                .and_then(|r| r.split('`').next())
                .unwrap_or("query")
                .to_string()
        };
        ApiError::invalid_field(&field, reason)
    })
}

/// `?limit=&cursor=` of a list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (left out or empty: the
    /// first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        // Exactly the documented pattern: the hyphenated form only.
        let cursor = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(c) if c.len() == 36 && uuid::Uuid::try_parse(c).is_ok() => Some(c.to_string()),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "cursor",
                    "is not a cursor from this list",
                ))
            }
        };
        Ok(Page { limit, cursor })
    }
}

impl Page {
    /// Rows to fetch: one more than the page, to know whether more follow.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Trims the extra row and returns the meta with the next cursor.
    pub fn finish<T>(&self, items: &mut Vec<T>, id: impl Fn(&T) -> String) -> Meta {
        let more = items.len() > self.limit as usize;
        items.truncate(self.limit as usize);
        Meta {
            next_cursor: if more { items.last().map(id) } else { None },
        }
    }
    /// The end of every list: trims the extra row, shows the rest as
    /// views, and answers them with `meta.next_cursor`.
    pub fn respond<R, V: Serialize>(
        &self,
        mut rows: Vec<R>,
        cursor: impl Fn(&R) -> String,
        view: impl FnMut(R) -> V,
    ) -> ApiSuccess<Vec<V>> {
        let meta = self.finish(&mut rows, cursor);
        ApiSuccess::ok(rows.into_iter().map(view).collect()).with_meta(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(PageQuery::default().page().unwrap().limit, 50);
        let q = |limit, cursor: Option<&str>| PageQuery {
            limit,
            cursor: cursor.map(String::from),
        };
        assert!(q(Some(0), None).page().is_err());
        assert!(q(Some(101), None).page().is_err());
        assert!(q(Some(100), None).page().is_ok());
        assert!(q(None, Some("drop table")).page().is_err());
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(q(None, Some(&id)).page().unwrap().cursor, Some(id));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Filter {
        status: Option<String>,
        limit: Option<u32>,
        cursor: Option<String>,
    }

    fn refused_field(query: &str) -> String {
        match parse_query::<Filter>(query).unwrap_err() {
            ApiError::Validation { details, .. } => details
                .map(|d| d["fields"][0]["field"].as_str().unwrap_or("").to_string())
                .unwrap_or_default(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_and_wrong_parameters_are_named() {
        assert_eq!(refused_field("status="), "status");
        assert_eq!(refused_field("limit=5&status"), "status");
        assert_eq!(refused_field("limit="), "limit");
        assert_eq!(refused_field("limit=many"), "limit");
        let empty_cursor = parse_query::<Filter>("cursor=&limit=5").unwrap();
        assert_eq!(empty_cursor.cursor.as_deref(), Some(""));
        let fine = parse_query::<Filter>("status=open&limit=5").unwrap();
        assert_eq!(fine.status.as_deref(), Some("open"));
        assert!(parse_query::<Filter>("").unwrap().status.is_none());
    }

    #[test]
    fn respond_maps_the_page_and_names_the_next_cursor() {
        let page = Page {
            limit: 2,
            cursor: None,
        };
        let answer = page.respond(vec![1, 2, 3], |n| n.to_string(), |n| n * 10);
        let body = format!("{answer:?}");
        assert!(body.contains("[10, 20]"), "{body}");
        assert!(body.contains("Some(\"2\")"), "{body}");
    }

    #[test]
    fn finish_sets_the_next_cursor_only_when_more_follow() {
        let page = Page {
            limit: 2,
            cursor: None,
        };
        let mut items = vec!["a", "b", "c"];
        assert_eq!(
            page.finish(&mut items, |s| s.to_string())
                .next_cursor
                .as_deref(),
            Some("b")
        );
        assert_eq!(items, ["a", "b"]);
        let mut items = vec!["a", "b"];
        assert!(page
            .finish(&mut items, |s| s.to_string())
            .next_cursor
            .is_none());
    }
}
