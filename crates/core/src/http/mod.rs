//! The HTTP baseline shared by every feature: envelopes, extractors,
//! request ids and the middleware stack.

pub mod baseline;
pub mod client;
pub mod extract;
pub mod layers;
pub mod middleware;
pub mod pagination;
pub mod request_id;
pub mod response;

pub use extract::Json;
pub use pagination::{Page, PageQuery, Query};
pub use response::{ApiSuccess, Envelope, Meta};
