//! Cursor pagination: `?limit=&cursor=` in, `meta.next_cursor` out.
//!
//! Cursors are the id (a time-ordered UUID v7) of the last item of the page,
//! which lists use as a keyset bound: no offset scans, and no item is seen
//! twice when rows are added between pages. Clients treat them as opaque.

use axum::extract::{FromRequestParts, Query as AxumQuery};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::http::response::{ApiSuccess, Meta};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// Like `axum::extract::Query`, but a bad query string is a 422 naming the
/// problem in the envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AxumQuery(value) = AxumQuery::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                let text = rejection.body_text();
                let reason = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_string();
                let field = reason
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                    .unwrap_or("query")
                    .to_string();
                ApiError::invalid_field(&field, reason)
            })?;
        Ok(Query(value))
    }
}

/// `?limit=&cursor=` of a list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (empty: the first page).
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
