//! The house rules (ARCHITECTURE.md) that a reader can check mechanically,
//! checked on the source text (no server): a feature's SQL lives in its
//! store module (`store.rs` or under `store/`) and touches only the tables
//! that feature owns; another feature's data is reached through that
//! feature's functions.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Who owns which table: the crate (its folder under `crates/`) whose store
/// module alone may name it. Every table the migrations leave behind is here
/// (`every_table_has_an_owner`).
const OWNERS: &[(&str, &[&str])] = &[
    (
        "identity",
        &[
            "users",
            "organizations",
            "memberships",
            "refresh_sessions",
            "one_time_tokens",
            "console_flashes",
        ],
    ),
    ("organizations", &["invitations"]),
    ("audit", &["audit_log"]),
    ("events", &["events", "event_usage_thresholds"]),
    ("keys", &["api_keys"]),
    (
        "metering",
        &[
            "usage_records",
            "usage_hourly",
            "usage_cuts",
            "usage_minutely",
        ],
    ),
    ("messages", &["messages"]),
    ("billing", &["billing_cycles", "plan_changes"]),
    (
        "payments",
        &[
            "payments",
            "provider_webhook_events",
            "reconciliation_discrepancies",
        ],
    ),
    ("jobs", &["jobs"]),
    ("mail", &["mail_suppressions"]),
    (
        "alerts",
        &[
            "alert_states",
            "alert_history",
            "db_pool_use",
            "integration_health",
            "integration_calls",
        ],
    ),
    (
        "webhooks",
        &[
            "webhook_endpoints",
            "webhook_deliveries",
            "webhook_attempts",
        ],
    ),
    (
        "inbox",
        &[
            "inbox_channels",
            "inbox_contacts",
            "inbox_conversations",
            "inbox_conversation_labels",
            "inbox_counters",
            "inbox_messages",
            "inbox_canned_responses",
            "inbox_templates",
            "inbox_bulk_operations",
            "inbox_bulk_targets",
            "inbox_stream_events",
            "inbox_report_conversations",
        ],
    ),
    (
        "marketplace",
        &[
            "marketplace_vendors",
            "marketplace_products",
            "marketplace_product_categories",
            "marketplace_cart_lines",
            "marketplace_orders",
            "marketplace_vendor_orders",
            "marketplace_order_items",
            "marketplace_reservations",
            "marketplace_ledger",
            "marketplace_payouts",
            "marketplace_refunds",
            "marketplace_reviews",
        ],
    ),
    (
        "apps",
        &[
            "apps",
            "app_slug_quarantine",
            "app_installations",
            "oauth_consents",
            "oauth_codes",
            "oauth_tokens",
            "oauth_signing_keys",
            "app_domains",
            "app_domain_quarantine",
            "app_routing_version",
            "app_traffic_hourly",
        ],
    ),
    ("backup", &["backup_runs", "backup_schedule"]),
    ("core", &["idempotency_keys"]),
];

/// Files outside store modules that may run SQL, and why.
const SQL_OUTSIDE_STORES: &[&str] = &[
    // The pool, the migrations and the readiness ping: no feature's data.
    "crates/core/src/db.rs",
    // The read replicas' lag check: no feature's data either.
    "crates/core/src/replicas.rs",
    // Names the target of sqlx's statement events (traces); runs no SQL.
    "crates/core/src/telemetry/queries.rs",
];

/// Known reads of another feature's table, as (store file, table).
const FOREIGN_TABLES_ALLOWED: &[(&str, &str)] = &[
    // The idempotency claim's unit tests create the organization their keys
    // belong to (a `#[cfg(test)]` helper): identity stands above core.
    ("crates/core/src/idempotency/store.rs", "organizations"),
];

/// The words after which SQL names a table.
const TABLE_KEYWORDS: [&str; 4] = ["from", "join", "into", "update"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A source file: its path from the workspace root (with `/`) and its text.
struct Source {
    path: String,
    text: String,
}

impl Source {
    /// The crate's folder name: `identity` for `crates/identity/src/store.rs`.
    fn crate_name(&self) -> &str {
        self.path.split('/').nth(1).unwrap_or("")
    }

    /// `store.rs` anywhere, or any file under a `store/` folder.
    fn is_store_module(&self) -> bool {
        let parts: Vec<&str> = self.path.split('/').collect();
        parts.last() == Some(&"store.rs") || parts.iter().rev().skip(1).any(|p| *p == "store")
    }

    /// The lines that are not comments, numbered from 1.
    fn code_lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line))
            .filter(|(_, line)| !line.trim_start().starts_with("//"))
    }
}

fn rust_files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files_under(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Every `crates/*/src/**/*.rs`, in path order.
fn sources() -> Vec<Source> {
    let root = workspace_root();
    let crates = fs::read_dir(root.join("crates")).expect("the crates folder");
    let mut files = Vec::new();
    for entry in crates {
        let src = entry.expect("a crate folder").path().join("src");
        if src.is_dir() {
            rust_files_under(&src, &mut files);
        }
    }
    let mut sources: Vec<Source> = files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&root).expect("under the workspace root");
            Source {
                path: relative.to_string_lossy().replace('\\', "/"),
                text: fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", file.display())),
            }
        })
        .collect();
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(
        sources.len() > 20,
        "found only {} source files under {}/crates",
        sources.len(),
        root.display()
    );
    sources
}

/// Whether a line runs SQL through sqlx (`query_async` of Redis is not).
fn runs_sql(line: &str) -> bool {
    [
        "sqlx::query",
        "query_as(",
        "query_as::<",
        "query_scalar(",
        "query_scalar::<",
    ]
    .iter()
    .any(|call| line.contains(call))
}

fn owner_of(table: &str) -> Option<&'static str> {
    OWNERS
        .iter()
        .find(|(_, tables)| tables.contains(&table))
        .map(|(owner, _)| *owner)
}

/// A table named after FROM, JOIN, INTO or UPDATE, where it is named.
struct TableUse<'a> {
    table: String,
    line_number: usize,
    line: &'a str,
}

/// The known tables that `source` names after a table keyword (across line
/// breaks: SQL strings continue on the next line).
fn tables_named(source: &Source) -> Vec<TableUse<'_>> {
    let words = source.code_lines().flat_map(|(number, line)| {
        line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .map(move |word| (word.to_ascii_lowercase(), number, line))
    });
    let mut uses = Vec::new();
    let mut after_keyword = false;
    for (word, line_number, line) in words {
        if after_keyword && owner_of(&word).is_some() {
            uses.push(TableUse {
                table: word.clone(),
                line_number,
                line,
            });
        }
        after_keyword = TABLE_KEYWORDS.contains(&word.as_str());
    }
    uses
}

#[test]
fn sql_lives_in_store_modules() {
    let mut offences = Vec::new();
    for source in sources() {
        if source.is_store_module() || SQL_OUTSIDE_STORES.contains(&source.path.as_str()) {
            continue;
        }
        for (number, line) in source.code_lines().filter(|(_, line)| runs_sql(line)) {
            offences.push(format!(
                "{}:{number}: SQL outside a store module: `{}` (move it to the feature's store.rs or store/)",
                source.path,
                line.trim()
            ));
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn stores_touch_only_their_own_tables() {
    let mut offences = Vec::new();
    for source in sources().iter().filter(|s| s.is_store_module()) {
        let feature = source.crate_name();
        for used in tables_named(source) {
            let owner = owner_of(&used.table).unwrap_or("?");
            let allowed = FOREIGN_TABLES_ALLOWED.contains(&(source.path.as_str(), &used.table));
            if owner != feature && !allowed {
                offences.push(format!(
                    "{}:{}: `{}` touches table `{}`, which belongs to {owner}: \
                     use landlord_{owner}'s functions (its store module) instead",
                    source.path,
                    used.line_number,
                    used.line.trim(),
                    used.table
                ));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn table_scan_sees_tables_across_lines_and_case() {
    let source = Source {
        path: "crates/example/src/store.rs".into(),
        text: "// SELECT * FROM users (a comment, not a statement)\n\
               sqlx::query(\"SELECT m.id FROM memberships m JOIN \\\n    users u ON u.id = m.user_id\")\n\
               sqlx::query(\"insert into invitations (id) VALUES ($1)\")\n\
               impl From<Row> for View {}\n"
            .into(),
    };
    let found: Vec<(String, usize)> = tables_named(&source)
        .into_iter()
        .map(|u| (u.table, u.line_number))
        .collect();
    assert_eq!(
        found,
        [
            ("memberships".to_string(), 2),
            ("users".to_string(), 3),
            ("invitations".to_string(), 4),
        ]
    );
    assert!(source.is_store_module() && source.crate_name() == "example");
    assert!(!runs_sql("command.query_async::<String>(&mut connection)"));
}

/// The tables the migrations leave (core's and the modules', in version
/// order, as the binary runs them): created, minus dropped, renames applied.
fn migrated_tables() -> BTreeSet<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for folder in ["core", "inbox", "marketplace", "apps", "backup"] {
        let dir = workspace_root()
            .join("crates")
            .join(folder)
            .join("migrations");
        files.extend(
            fs::read_dir(&dir)
                .expect("the migrations folder")
                .map(|entry| entry.expect("a migration").path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "sql")),
        );
    }
    files.sort_by_key(|path| path.file_name().map(|name| name.to_owned()));
    let mut tables = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("a readable migration");
        let text: String = text
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        for statement in text.split(';') {
            let words: Vec<String> = statement
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            match words.as_slice() {
                ["create", "table", "if", "not", "exists", name, ..]
                | ["create", "table", name, ..] => {
                    tables.insert(name.to_string());
                }
                ["drop", "table", "if", "exists", name, ..] | ["drop", "table", name, ..] => {
                    tables.remove(*name);
                }
                ["alter", "table", old, "rename", "to", new, ..] => {
                    tables.remove(*old);
                    tables.insert(new.to_string());
                }
                _ => {}
            }
        }
    }
    tables
}

#[test]
fn every_table_has_an_owner() {
    let tables = migrated_tables();
    assert!(tables.contains("users"), "migrations read: {tables:?}");
    let unowned: Vec<&String> = tables.iter().filter(|t| owner_of(t).is_none()).collect();
    assert!(
        unowned.is_empty(),
        "tables without an owner in house_rules.rs OWNERS: {unowned:?}"
    );
    let gone: Vec<&str> = OWNERS
        .iter()
        .flat_map(|(_, owned)| owned.iter().copied())
        .filter(|t| !tables.contains(*t))
        .collect();
    assert!(
        gone.is_empty(),
        "OWNERS names tables the migrations do not leave: {gone:?}"
    );
}
