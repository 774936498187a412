//! The `landlord` server: wires the features into one application.

pub mod backups;
pub mod cli;
mod http_server;
pub mod maintenance;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod test_routes;

pub use startup::Application;
pub use state::AppState;
