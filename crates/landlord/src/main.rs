use std::process::ExitCode;

use clap::Parser;
use figment::Figment;
use landlord::cli::{AppsCommand, Cli, Command};
use landlord::settings::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = Settings::sources(cli.config.as_deref())
        .and_then(|sources| Settings::from_figment(&sources).map(|s| (sources, s)));
    let (sources, settings) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("landlord: {error}");
            return ExitCode::from(2);
        }
    };
    if matches!(cli.command, Some(Command::Config)) {
        return print_configuration(&settings, &sources);
    }
    let config = settings.into_config();
    let telemetry = landlord_core::telemetry::init_logging(&config);
    return_large_blocks_to_the_system();
    return_freed_memory_periodically();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("landlord: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => landlord::startup::serve(config).await,
            Command::Migrate => landlord::startup::migrate(config).await,
            Command::Config => Ok(()),
            Command::MakeAdmin { email } => landlord::startup::make_admin(config, &email).await,
            Command::ClosePeriod { month } => landlord::startup::close_period(config, &month).await,
            Command::SetPlan { organization, plan } => {
                landlord::startup::set_plan(config, &organization, &plan).await
            }
            Command::Apps(AppsCommand::RotateSigningKey) => {
                landlord::startup::rotate_signing_key(config).await
            }
            Command::Backup { to, list } => {
                landlord::backups::backup(config, to.as_deref(), list).await
            }
            Command::Restore {
                from,
                data_dir,
                force,
                identity,
                without_keys,
            } => {
                landlord::backups::restore(
                    config,
                    landlord::backups::RestoreArgs {
                        from,
                        data_dir,
                        force,
                        identity,
                        without_keys,
                    },
                )
                .await
            }
        }
    });
    // Spans still buffered go to the collector before the process ends.
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "landlord stopped with an error"
            );
            eprintln!("landlord: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `landlord config`: the effective configuration on standard output.
fn print_configuration(settings: &Settings, sources: &Figment) -> ExitCode {
    match settings.describe(sources) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            print_dkim_record(settings)
        }
        Err(error) => {
            eprintln!("landlord: {error}");
            ExitCode::from(2)
        }
    }
}

/// With DKIM set up: the TXT record the sending domain publishes.
fn print_dkim_record(settings: &Settings) -> ExitCode {
    match landlord_mail::Dkim::from_config(&settings.clone().into_config()) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(dkim)) => {
            println!("# DKIM: publish this TXT record");
            println!("# {} TXT \"{}\"", dkim.dns_name(), dkim.dns_record());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("landlord: {error}");
            ExitCode::from(2)
        }
    }
}

/// Makes glibc's allocator give large blocks back to the system when they
/// are freed, before any thread starts.
///
/// Every password hash or check allocates 19 MiB (argon2) and frees it. By
/// default glibc raises its mmap threshold after the first such free, then
/// serves later 19 MiB blocks from per-thread arenas and keeps them there:
/// the process stays hundreds of MiB larger after one burst of sign-ins,
/// whatever the hashing bound. A fixed threshold (8 MiB) keeps large blocks
/// in their own mappings, released on free, so resident memory follows the
/// hashing bound (`password_hashing_concurrency` × 19 MiB) and falls back
/// afterwards. Other allocators (musl, other systems) are left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    const THRESHOLD: libc::c_int = 8 * 1024 * 1024;
    // SAFETY: mallopt only sets an allocator parameter; it is called once,
    // before the runtime starts any other thread.
    let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) };
    if applied != 1 {
        tracing::warn!("could not set the allocator's mmap threshold; memory may stay high after bursts of sign-ins");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

/// Every [`TRIM_INTERVAL`], gives the pages glibc's allocator holds free
/// back to the system (`malloc_trim`).
///
/// Memory freed in the middle of an arena (connection buffers, request
/// state) is otherwise kept by glibc for reuse: after 10,000 keep-alive
/// connections close, the process stays at its peak (≈ 170 MiB) for good;
/// with a trim it falls back to its idle size (≈ 28 MiB, `bench/run.sh connections`).
/// A trim walks the arenas' free lists, so it runs seldom and on its own
/// thread.
///
/// Why glibc and not another allocator (`bench/run.sh connections`, 10,000
/// connections, the same binary with the allocator preloaded): mimalloc
/// held 152 MiB against glibc's 170 MiB but still held 140 MiB 12 s after
/// the connections closed; jemalloc held more than glibc (224 MiB against
/// 218 MiB before the HTTP/1-only server) and kept 138 MiB after. glibc
/// with this trim is the only one under the 200 MiB target that goes back
/// to its idle size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory_periodically() {
    const TRIM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
    let spawned = std::thread::Builder::new()
        .name("memory-trim".into())
        .spawn(|| loop {
            std::thread::sleep(TRIM_INTERVAL);
            // SAFETY: malloc_trim only releases free memory; it takes the
            // allocator's own locks and is safe to call from any thread.
            unsafe { libc::malloc_trim(0) };
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the memory-trim thread; memory may stay high after load");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory_periodically() {}
