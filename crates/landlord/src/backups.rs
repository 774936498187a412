//! `landlord backup` and `landlord restore`: the command line's side of
//! backups (the work is the backup module's).

use std::path::PathBuf;

use anyhow::Context;
use landlord_backup::destination::{Destination, Location};
use landlord_backup::keys::{self, ConfiguredKeys, KeySecret, LOST_WITHOUT_KEYS};
use landlord_backup::restore::RestoreRequest;
use landlord_backup::{BackupConfig, Backups, KeysIncluded, StoredManifest, Trigger};
use landlord_core::config::DatabaseKind;
use landlord_core::{Config, Db};

/// `landlord backup [--to DIR|URL] [--list]`.
pub async fn backup(config: Config, to: Option<&str>, list: bool) -> anyhow::Result<()> {
    if config.database_kind()? == DatabaseKind::Postgres {
        anyhow::bail!("{}", landlord_backup::POSTGRES_GUIDE);
    }
    let settings = config.section::<BackupConfig>().clone();
    let destination = match to {
        Some(to) => {
            let location =
                Location::parse(to).map_err(|reason| anyhow::anyhow!("--to: {reason}"))?;
            Destination::open(&location, &settings)?
        }
        None => Destination::configured(&settings)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no destination: give --to DIR|s3://bucket/prefix, or set backup.destination \
                 (LANDLORD_BACKUP__DESTINATION)"
            )
        })?,
    };
    if list {
        let snapshots = destination.list().await?;
        print_list(&destination, &snapshots);
        return Ok(());
    }
    // The server applied the migrations; a backup reads, it never migrates.
    let db = Db::connect(&config).await.context("database_url")?;
    let backups = Backups::new(db.clone(), &config)?;
    let taken = backups.take_to(&destination, Trigger::Command).await;
    db.close().await;
    let stored = taken?;
    println!(
        "{} written to {} ({} compressed, database {}, sha256 {})",
        stored.manifest.name,
        destination.location(),
        human_bytes(stored.archive_bytes),
        human_bytes(stored.manifest.database_bytes),
        stored.archive_sha256
    );
    eprintln!(
        "note: {}",
        keys::backup_note(stored.manifest.keys, &settings, ConfiguredKeys::of(&config))
    );
    Ok(())
}

fn print_list(destination: &Destination, snapshots: &[StoredManifest]) {
    if snapshots.is_empty() {
        println!("no snapshots at {}", destination.location());
        return;
    }
    println!("snapshots at {} (newest first):", destination.location());
    println!(
        "{:<31} {:<24} {:>10} {:>10} {:<8} {:<12} trigger",
        "name", "taken", "archive", "database", "verified", "keys"
    );
    for stored in snapshots {
        let manifest = &stored.manifest;
        println!(
            "{:<31} {:<24} {:>10} {:>10} {:<8} {:<12} {}",
            manifest.name,
            manifest.created_at.rfc3339(),
            human_bytes(stored.archive_bytes),
            human_bytes(manifest.database_bytes),
            if stored.verified { "yes" } else { "no" },
            match manifest.keys {
                KeysIncluded::None => "none",
                KeysIncluded::Passphrase => "passphrase",
                KeysIncluded::AgeRecipient => "age",
            },
            manifest.trigger.as_str()
        );
    }
}

/// A size in bytes as people read it.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `landlord restore`'s flags.
#[derive(Debug)]
pub struct RestoreArgs {
    pub from: String,
    pub data_dir: PathBuf,
    pub force: bool,
    pub identity: Option<PathBuf>,
    pub without_keys: bool,
}

/// `landlord restore --from SNAPSHOT --data-dir DIR`.
pub async fn restore(config: Config, args: RestoreArgs) -> anyhow::Result<()> {
    let settings = config.section::<BackupConfig>().clone();
    let key = match &args.identity {
        Some(path) => Some(KeySecret::Identity(
            std::fs::read_to_string(path)
                .with_context(|| format!("--identity: cannot read {}", path.display()))?
                .into(),
        )),
        None => settings.passphrase.clone().map(KeySecret::Passphrase),
    };
    let known = landlord_core::db::combined_migrator(crate::routes::MODULE_MIGRATIONS)?
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    let request = RestoreRequest {
        from: args.from,
        data_dir: args.data_dir,
        force: args.force,
        key,
        without_keys: args.without_keys,
    };
    let data_dir = request.data_dir.display().to_string();
    let report = landlord_backup::restore::restore(&request, &settings, known)
        .await
        .map_err(|error| {
            anyhow::anyhow!("nothing was restored, {data_dir} is as it was: {error}")
        })?;
    println!(
        "restored {} (taken {}, Landlord {}, schema {}) into {}: its checksums and PRAGMA \
         integrity_check passed",
        report.manifest.name,
        report.manifest.created_at.rfc3339(),
        report.manifest.landlord_version,
        report.manifest.schema_version,
        report.database.display()
    );
    let configured = ConfiguredKeys::of(&config);
    if report.keys_restored {
        println!(
            "the data directory's keys were restored into {}/secrets: access tokens and sealed \
             secrets carry on",
            data_dir
        );
        for aside in &report.keys_set_aside {
            println!("the key it replaced is kept as {}", aside.display());
        }
        if !configured.names().is_empty() {
            eprintln!(
                "note: {} set in this configuration: the server uses the configured value, not \
                 the restored file, so it must be the value the snapshot's server used",
                configured.names().join(" and ")
            );
        }
    } else {
        let because = report
            .keys_not_restored_because
            .as_deref()
            .unwrap_or("the snapshot carries none");
        if configured.all() {
            eprintln!(
                "note: the keys were not restored ({because}). This configuration sets \
                 token_signing_key and payload_encryption_key: with the values the snapshot's \
                 server used, nothing is lost. {LOST_WITHOUT_KEYS}"
            );
        } else if !report.keys_kept.is_empty() {
            eprintln!(
                "note: the keys were not restored ({because}). {data_dir}/secrets keeps its own \
                 {}: nothing is lost only if they are the keys the snapshot was taken with. \
                 {LOST_WITHOUT_KEYS}",
                report.keys_kept.join(" and ")
            );
        } else {
            eprintln!("note: the keys were not restored ({because}). {LOST_WITHOUT_KEYS}");
        }
    }
    println!(
        "start the server on it: LANDLORD_DATA_DIR={data_dir} landlord serve (it applies newer \
         migrations)"
    );
    Ok(())
}
