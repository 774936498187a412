//! The Inbox's routes under `/api/v1/inbox` (thin: each calls the feature).

pub mod channels;
pub mod conversations;
pub mod library;
pub mod reports;
pub mod stream;
pub mod webhook;
