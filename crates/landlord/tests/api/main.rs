//! End-to-end tests: each starts the real server on a random port, against
//! a throwaway SQLite file and, when PostgreSQL's binaries are installed, a
//! throwaway PostgreSQL cluster, and talks HTTP to it.
//!
//! One test binary (this one) keeps link times down.

mod support;

mod alerts;
mod apps;
mod apps_authorized;
mod apps_authorized_browser;
mod apps_install;
mod apps_keys;
mod apps_oauth;
mod apps_oauth_browser;
mod apps_registry;
mod backup_console;
mod backup_restore;
mod backup_s3;
mod backup_schedule;
mod baseline;
mod billing;
mod browser;
mod console;
mod console_apps;
mod console_apps_browser;
mod console_apps_install_browser;
mod console_billing;
mod console_billing_browser;
mod console_first_hour;
mod console_flash;
mod console_forms;
mod console_inbox;
mod console_inbox_reports;
mod console_inbox_reports_browser;
mod console_journey;
mod console_marketplace;
mod console_navigation;
mod console_navigation_browser;
mod console_operator;
mod console_operator_browser;
mod console_records;
mod console_records_browser;
mod console_team;
mod console_team_browser;
mod console_webhooks;
mod events;
mod gateway_browser;
mod gateway_domains;
mod gateway_hosts;
mod gateway_limits;
mod gateway_proxy;
mod gateway_routing;
mod gateway_visitor;
mod house_rules;
mod identity;
mod inbox;
mod inbox_limits;
mod inbox_reports;
mod keys;
mod leases;
mod limits;
mod marketplace;
mod marketplace_catalog;
mod money_once;
mod month_close;
mod operations;
mod payments;
mod process;
mod security_billing;
mod security_edge;
mod security_team;
mod sms;
mod team;
mod usage;
mod webhooks;
