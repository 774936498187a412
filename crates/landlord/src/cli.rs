//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Landlord: organizations, sign-up, API keys, limits, metering, billing and
/// payments for a SaaS product, in one server.
///
/// Settings come from defaults, then a TOML file, then environment variables
/// (`LANDLORD_KEY`, `LANDLORD_TABLE__KEY`); `landlord config` shows each
/// one's value and where it came from, docs/src/configuration.md lists them all.
#[derive(Debug, Parser)]
#[command(name = "landlord", version, about, long_about)]
pub struct Cli {
    /// TOML configuration file [default: ./landlord.toml when it exists]
    #[arg(
        long,
        short,
        global = true,
        env = "LANDLORD_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default): applies pending migrations, starts
    /// the background workers, and stops gracefully on SIGINT or SIGTERM.
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print the effective configuration, one `key = value` line per
    /// setting followed by where the value came from (default, the file,
    /// or the environment variable); secrets print as `[redacted]`.
    Config,
    /// Close a month into billing cycles now (operators; safe to repeat).
    ClosePeriod {
        /// The month, `YYYY-MM` (UTC).
        #[arg(long)]
        month: String,
    },
    /// Make a user a platform administrator (the /operator console, the /api/v1/admin API).
    MakeAdmin {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Move an organization to another plan of the catalog (operators).
    SetPlan {
        /// The organization's id.
        #[arg(long)]
        organization: String,
        /// A plan name from the catalog, e.g. `pro`.
        #[arg(long)]
        plan: String,
    },
    /// The Apps module's operations.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Take a snapshot of the SQLite database now (safe while the server
    /// runs), or list the snapshots at the destination. On PostgreSQL,
    /// says how to back it up with PostgreSQL's own tools.
    Backup {
        /// Where to write it: a directory or s3://bucket/prefix
        /// [default: backup.destination].
        #[arg(long, value_name = "DIR|URL")]
        to: Option<String>,
        /// List the snapshots at the destination instead of taking one.
        #[arg(long)]
        list: bool,
    },
    /// Restore a snapshot into a data directory, checked (its checksums and
    /// `PRAGMA integrity_check`) before anything is replaced. Never into a
    /// directory a server is using; start the server on it afterwards (it
    /// applies newer migrations).
    Restore {
        /// The snapshot: its archive file, s3://bucket/prefix/landlord-….tar.zst,
        /// or a snapshot name (or `latest`) at backup.destination.
        #[arg(long, value_name = "SNAPSHOT")]
        from: String,
        /// The data directory to restore into (created when missing).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Replace the database the directory already holds.
        #[arg(long)]
        force: bool,
        /// An age identity file, for a snapshot whose keys were encrypted
        /// to backup.age_recipient (a passphrase comes from backup.passphrase).
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// Restore the database alone even when the snapshot carries keys.
        #[arg(long)]
        without_keys: bool,
    },
}

/// `landlord apps …`.
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Make a new key that signs ID tokens from now on and print its id
    /// (`kid`). The old key signs no more but stays in `/oauth/jwks` until
    /// the tokens it signed have expired (`apps.id_token_ttl_secs`).
    RotateSigningKey,
}
