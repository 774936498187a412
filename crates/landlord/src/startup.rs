//! Building and running the application: plain functions, so that `main`
//! and the test harness start the server the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use landlord_core::sealed::PayloadCipher;
use landlord_core::secrets::{resolve_secret, SecretSource};
use landlord_core::{Config, Db};
use std::time::Duration;

use landlord_billing::schedule::{
    ClosePeriodJob, MarkOverdueJob, CLOSE_PERIOD_JOB, MARK_OVERDUE_JOB,
};
use landlord_billing::Period;
use landlord_identity::IdentityState;
use landlord_jobs::{Worker, WorkerBuilder, WorkerSettings};
use landlord_keys::KeysState;
use landlord_limits::{QuotaCounter, RateLimiter, SharedStore};
use landlord_mail::{MailJob, Mailer, MAIL_JOB};
use landlord_messages::routes::MessagesState;
use landlord_messages::{DeliverMessage, DELIVER_JOB};
use landlord_metering::UsageWriter;
use landlord_payments::routes::PaymentsState;
use landlord_payments::{ProcessEvent, Providers, ReconcileJob, PROCESS_EVENT_JOB, RECONCILE_JOB};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::maintenance::{PurgeJob, PURGE_JOB};
use crate::routes::build_router;
use crate::state::{AppInner, AppState};

/// A built server: database ready, socket bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    /// `metrics_listen`'s socket, when set.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    address: SocketAddr,
    worker: Worker,
    usage_writer: UsageWriter,
    /// The data directory's lock, held shared while this server runs on a
    /// SQLite database (a restore holds it alone).
    _data_dir_lock: Option<landlord_core::data_dir::DataDirLock>,
}

impl Application {
    /// Connects to the database, applies migrations, resolves secrets and
    /// binds the listening socket (port 0 picks a free one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Before anything reads an event or builds the OpenAPI document.
        landlord_events::catalog::install(crate::routes::event_catalog());
        let data_dir_lock = lock_data_dir(&config)?;
        let (state, worker, usage_writer) = build_state(config).await?;
        let listen = state.config.listen_addr()?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        let metrics_listener = match state.config.metrics_listen_addr()? {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("metrics_listen: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        crate::operations::warn_if_metrics_exposed(&state.config);
        let router = build_router(state.clone());
        Ok(Self {
            listener,
            metrics_listener,
            router,
            state,
            address,
            worker,
            usage_writer,
            _data_dir_lock: data_dir_lock,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where `/metrics` is served when `metrics_listen` is set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish before returning.
    pub async fn run_until<F>(self, shutdown: F) -> anyhow::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop_worker = CancellationToken::new();
        let alerts_waker = self.worker.waker();
        let dispatch_waker = self.worker.waker();
        let worker = tokio::spawn(self.worker.run(stop_worker.clone()));
        let stop_schedule = CancellationToken::new();
        let schedule = self.state.config.billing_schedule.then(|| {
            tokio::spawn(landlord_billing::schedule::run(
                self.state.db.clone(),
                stop_schedule.clone(),
            ))
        });
        let stop_alerts = CancellationToken::new();
        let alerts = self
            .state
            .config
            .section::<landlord_alerts::config::AlertsConfig>()
            .evaluate
            .then(|| {
                tokio::spawn(landlord_alerts::run(
                    self.state.db.clone(),
                    self.state.config.clone(),
                    self.state.identity.payload_cipher.clone(),
                    alerts_waker,
                    stop_alerts.clone(),
                ))
            });
        // Every instance reports its database pool use (the pool's alert
        // reads every instance's), evaluating alerts or not.
        let pool_use = tokio::spawn(landlord_alerts::pool::run(
            self.state.db.clone(),
            stop_alerts.clone(),
        ));
        // Every instance writes its counts of integration calls.
        let stop_flusher = CancellationToken::new();
        let flusher = tokio::spawn(landlord_alerts::run_flusher(
            self.state.db.clone(),
            self.state.config.clone(),
            stop_flusher.clone(),
        ));
        let stop_dispatch = CancellationToken::new();
        let dispatch = self
            .state
            .config
            .section::<landlord_webhooks::config::WebhooksConfig>()
            .dispatch
            .then(|| {
                tokio::spawn(landlord_webhooks::dispatch::run(
                    self.state.db.clone(),
                    self.state.config.clone(),
                    dispatch_waker,
                    stop_dispatch.clone(),
                ))
            });
        let stop_sweep = CancellationToken::new();
        let sweep = (self
            .state
            .config
            .section::<landlord_marketplace::config::MarketplaceConfig>()
            .enabled
            && self
                .state
                .config
                .section::<landlord_marketplace::config::MarketplaceConfig>()
                .sweep)
            .then(|| {
                tokio::spawn(landlord_marketplace::sweep::run(
                    self.state.db.clone(),
                    self.state.config.clone(),
                    self.state.identity.jobs.clone(),
                    stop_sweep.clone(),
                ))
            });
        let stop_gateway = CancellationToken::new();
        let gateway = self
            .state
            .config
            .section::<landlord_apps::config::AppsConfig>()
            .enabled
            .then(|| tokio::spawn(self.state.gateway.clone().run(stop_gateway.clone())));
        let stop_backups = CancellationToken::new();
        let backups = self.state.backups.clone();
        let scheduled_backups = (backups.settings().scheduled() && backups.supported().is_ok())
            .then(|| {
                tokio::spawn(landlord_backup::schedule::run(
                    backups,
                    stop_backups.clone(),
                ))
            });
        let stop_usage = CancellationToken::new();
        let usage_writer = tokio::spawn(self.usage_writer.run(stop_usage.clone()));
        let stop_metrics = CancellationToken::new();
        let metrics_server = self.metrics_listener.map(|listener| {
            let router =
                crate::operations::metrics_router(self.state.config.clone(), self.state.db.clone());
            let stop = stop_metrics.clone();
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "metrics are served on their own address");
            }
            tokio::spawn(crate::http_server::serve(listener, router, async move {
                stop.cancelled().await
            }))
        });
        let live = self.state.inbox_live.clone();
        let live_subscriber = tokio::spawn(live.clone().listen());
        // Identity says whose access ended; the inbox's streams end with it.
        let access_watcher = tokio::spawn(
            live.clone()
                .watch_access(self.state.identity.access_endings.subscribe()),
        );
        // Realtime streams end at shutdown at the latest: stop them when the
        // shutdown begins, so the graceful drain does not wait for them.
        let shutdown = async move {
            shutdown.await;
            live.stopping.cancel();
        };
        tracing::info!(address = %self.address, "landlord is listening");
        crate::http_server::serve(self.listener, self.router, shutdown).await;
        let _ = live_subscriber.await;
        let _ = access_watcher.await;
        // No request is in flight any more: write the last usage records,
        // let the worker finish the job in hand, then close the pool.
        stop_metrics.cancel();
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        stop_schedule.cancel();
        if let Some(schedule) = schedule {
            let _ = schedule.await;
        }
        stop_alerts.cancel();
        if let Some(alerts) = alerts {
            let _ = alerts.await;
        }
        let _ = pool_use.await;
        stop_dispatch.cancel();
        if let Some(dispatch) = dispatch {
            let _ = dispatch.await;
        }
        stop_sweep.cancel();
        if let Some(sweep) = sweep {
            let _ = sweep.await;
        }
        // A snapshot being taken finishes first (the pool closes below).
        stop_backups.cancel();
        if let Some(scheduled_backups) = scheduled_backups {
            let _ = scheduled_backups.await;
        }
        // The gateway's last traffic figures are written before the usage
        // writer's last batch.
        stop_gateway.cancel();
        if let Some(gateway) = gateway {
            let _ = gateway.await;
        }
        stop_usage.cancel();
        if let Err(error) = usage_writer.await {
            tracing::error!(%error, "the usage writer ended abnormally");
        }
        stop_worker.cancel();
        if let Err(error) = worker.await {
            tracing::error!(%error, "the job worker ended abnormally");
        }
        // The last calls counted (the worker's included) are written.
        stop_flusher.cancel();
        let _ = flusher.await;
        self.state.db.close().await;
        tracing::info!("landlord stopped");
        Ok(())
    }
}

/// Everything the handlers share, and the job worker, ready to run.
async fn build_state(config: Config) -> anyhow::Result<(AppState, Worker, UsageWriter)> {
    // Install the metrics recorder before the first request is counted.
    landlord_core::telemetry::prometheus();
    let db = connect_and_migrate(&config).await?;
    let token_signing_key = token_signing_key(&config)?;
    let payload_cipher = payload_cipher(&config)?;
    let redis = match config.redis_url.as_ref().map(|u| u.expose_str()) {
        Some(url) => Some(redis::Client::open(url).context("redis_url: cannot be used")?),
        None => None,
    };
    // Every module's mail templates are registered here, once.
    let mailer = Mailer::from_config(&config)
        .and_then(|mailer| mailer.with_templates(&landlord_marketplace::mail::TEMPLATES))
        .and_then(|mailer| mailer.with_templates(&landlord_apps::mail::TEMPLATES))
        .context("mail settings")?;
    let mailer = Arc::new(mailer);
    let providers = Providers::from_config(&config);
    let inbox_live = landlord_inbox::live::Live::new(
        db.clone(),
        redis.clone(),
        landlord_inbox::live::StreamSettings::from_config(
            config.section::<landlord_inbox::config::InboxConfig>(),
        ),
    );
    let sms = landlord_messages::sms::provider_for(&config).context("sms settings")?;
    announce_missing_services(&config, sms.as_deref());
    let services = JobServices {
        mailer,
        cipher: payload_cipher.clone(),
        providers: providers.clone(),
        inbox_live: inbox_live.clone(),
        sms,
    };
    let worker = job_worker(&db, &config, services)?;
    let (usage, usage_writer) = landlord_metering::channel(
        db.clone(),
        Duration::from_millis(config.usage_flush_interval_ms),
        config.usage_raw_log,
        landlord_keys::LastUsed,
    );
    // One store for every limit: one connection and one circuit breaker,
    // so the instance falls back and comes back as a whole.
    let shared = redis.clone().map(SharedStore::new);
    let limiter = Arc::new(RateLimiter::new(shared.clone()));
    let quota = Arc::new(QuotaCounter::new(shared));
    let config = Arc::new(config);
    let identity = IdentityState::new(
        db.clone(),
        config.clone(),
        &token_signing_key,
        worker.waker(),
        limiter.clone(),
        payload_cipher,
    );
    let keys = KeysState::new(identity.clone(), limiter.clone(), quota, usage);
    let inbox = landlord_inbox::InboxState::new(
        db.clone(),
        config.clone(),
        identity.clone(),
        limiter,
        keys.clone(),
    )?;
    let messages = MessagesState::new(db.clone(), worker.waker(), &config);
    let billing = landlord_billing::BillingState::new(
        db.clone(),
        config.clone(),
        identity.clone(),
        keys.clone(),
    );
    let payments = PaymentsState::new(
        db.clone(),
        config.clone(),
        identity.clone(),
        keys.clone(),
        billing.clone(),
        providers,
    );
    let marketplace =
        landlord_marketplace::MarketplaceState::new(db.clone(), config.clone(), identity.clone());
    let apps = landlord_apps::AppsState::new(db.clone(), config.clone(), identity.clone());
    if apps.settings().enabled {
        // Installed apps' tokens (`lla_…`) on the routes that accept them.
        identity.set_delegated_tokens(Arc::new(landlord_apps::app_tokens::AppTokens {
            db: db.clone(),
        }));
    }
    let gateway = landlord_apps::gateway::Gateway::new(landlord_apps::gateway::GatewayDeps {
        apps: apps.clone(),
        keys: keys.clone(),
        redis: redis.clone(),
    })?;
    let backups = landlord_backup::Backups::new(db.clone(), &config).context("backup settings")?;
    let state = AppState::new(AppInner {
        config,
        db,
        redis,
        token_signing_key: Arc::new(token_signing_key),
        identity,
        keys,
        billing,
        messages,
        payments,
        inbox_live,
        inbox,
        marketplace,
        apps,
        gateway,
        backups,
    });
    Ok((state, worker, usage_writer))
}

/// Holds the data directory's lock shared while a server runs on SQLite,
/// so that `landlord restore` never replaces its database under it.
fn lock_data_dir(config: &Config) -> anyhow::Result<Option<landlord_core::data_dir::DataDirLock>> {
    if config.database_kind()? != landlord_core::config::DatabaseKind::Sqlite {
        return Ok(None);
    }
    landlord_core::data_dir::lock_shared(&config.data_dir)
        .map(Some)
        .context("data_dir")
}

/// The key that signs access tokens: configured, or generated once into
/// the data directory (said loudly: several instances need the same one).
fn token_signing_key(config: &Config) -> anyhow::Result<String> {
    let (key, source) = resolve_secret(
        config.token_signing_key.as_ref().map(|k| k.expose_str()),
        &config.data_dir,
        "token_signing_key",
    )
    .with_context(|| {
        format!(
            "cannot keep the generated token signing key in {}",
            config.data_dir.display()
        )
    })?;
    match source {
        SecretSource::GeneratedAt(path) => tracing::warn!(
            path = %path.display(),
            "no token_signing_key configured: generated one and kept it in the data directory; \
             set LANDLORD_TOKEN_SIGNING_KEY to the same value on every instance when running several"
        ),
        SecretSource::LoadedFrom(path) => tracing::warn!(
            path = %path.display(),
            "no token_signing_key configured: using the one generated earlier in the data directory"
        ),
        SecretSource::Configured => {}
    }
    Ok(key)
}

/// Says at start-up what is missing or unusual, so that an operator reads
/// why a message channel refuses before a customer meets it.
fn announce_missing_services(config: &Config, sms: Option<&dyn landlord_messages::SmsProvider>) {
    if config.enable_test_routes {
        tracing::warn!(
            "enable_test_routes is on: /__test routes are mounted; never do this in production"
        );
    }
    match sms.map(|provider| provider.name()) {
        Some("twilio") => {}
        Some(_) => tracing::info!(
            "no SMS provider configured: SMS are written to data_dir/sms and marked simulated \
             (public_url is loopback: development)"
        ),
        None => tracing::warn!(
            "no SMS provider configured: POST /messages/send refuses channel sms (set [sms.twilio])"
        ),
    }
    if config.smtp_host.is_none() && !config.is_development() {
        tracing::warn!(
            "no smtp_host configured: POST /messages/send refuses channel email, \
             and account mail is written to data_dir/mail"
        );
    }
}

/// What the job handlers share with the request handlers.
struct JobServices {
    mailer: Arc<Mailer>,
    cipher: PayloadCipher,
    providers: Providers,
    inbox_live: landlord_inbox::live::Live,
    sms: Option<Arc<dyn landlord_messages::SmsProvider>>,
}

/// The job worker with every feature's handlers, then every module's.
fn job_worker(db: &Db, config: &Config, services: JobServices) -> anyhow::Result<Worker> {
    let worker = WorkerBuilder::new(db.clone(), WorkerSettings::from_config(config));
    let worker = core_jobs(worker, db, config, &services)?;
    let worker = module_jobs(worker, db, config, &services)?;
    let worker = if config.enable_test_routes {
        worker.handle(crate::test_routes::SLOW_JOB, crate::test_routes::SlowJob)
    } else {
        worker
    };
    Ok(worker.build())
}

/// The core's and the features' job handlers: mail, month close, overdue
/// invoices, purges, reconciliation, provider events, alerts, webhook
/// deliveries, messages.
fn core_jobs(
    worker: WorkerBuilder,
    db: &Db,
    config: &Config,
    services: &JobServices,
) -> anyhow::Result<WorkerBuilder> {
    let shared_config = Arc::new(config.clone());
    Ok(worker
        .handle(
            MAIL_JOB,
            MailJob {
                db: db.clone(),
                mailer: services.mailer.clone(),
                cipher: services.cipher.clone(),
            },
        )
        .handle(
            CLOSE_PERIOD_JOB,
            ClosePeriodJob {
                db: db.clone(),
                config: shared_config.clone(),
            },
        )
        .handle(
            MARK_OVERDUE_JOB,
            MarkOverdueJob {
                db: db.clone(),
                config: shared_config.clone(),
            },
        )
        .handle(
            PURGE_JOB,
            PurgeJob {
                db: db.clone(),
                raw_log_days: config.usage_raw_log_retention_days,
            },
        )
        .handle(
            RECONCILE_JOB,
            ReconcileJob {
                db: db.clone(),
                providers: Arc::new(services.providers.clone()),
            },
        )
        .handle(
            PROCESS_EVENT_JOB,
            ProcessEvent {
                db: db.clone(),
                config: shared_config.clone(),
                providers: services.providers.clone(),
                // Each module's payments' events go to its own job.
                routes: Arc::new([landlord_marketplace::PAYMENT_ROUTE]),
            },
        )
        .handle(
            landlord_alerts::NOTIFY_JOB,
            landlord_alerts::NotifyJob::new(shared_config.clone())?,
        )
        .handle(
            landlord_webhooks::DELIVER_JOB,
            landlord_webhooks::DeliverJob::new(db.clone(), shared_config, services.cipher.clone())?,
        )
        .handle(
            DELIVER_JOB,
            DeliverMessage {
                db: db.clone(),
                mailer: services.mailer.clone(),
                sms: services.sms.clone(),
            },
        ))
}

/// The modules' job handlers (registered whether or not a module is
/// switched on: jobs it queued before finish).
fn module_jobs(
    worker: WorkerBuilder,
    db: &Db,
    config: &Config,
    services: &JobServices,
) -> anyhow::Result<WorkerBuilder> {
    let live = &services.inbox_live;
    let marketplace = landlord_marketplace::JobContext::new(db.clone(), config);
    Ok(worker
        .handle(
            landlord_inbox::BULK_JOB,
            landlord_inbox::BulkJob {
                db: db.clone(),
                live: live.clone(),
            },
        )
        .handle(
            landlord_inbox::PROCESS_JOB,
            landlord_inbox::ProcessNotification {
                db: db.clone(),
                live: live.clone(),
            },
        )
        .handle(
            landlord_inbox::SEND_JOB,
            landlord_inbox::SendMessage::new(
                db.clone(),
                live.clone(),
                Arc::new(config.clone()),
                services.cipher.clone(),
            )?,
        )
        .handle(
            landlord_marketplace::PAYMENT_JOB,
            landlord_marketplace::PaymentJob {
                context: marketplace.clone(),
            },
        )
        .handle(
            landlord_marketplace::REFUND_JOB,
            landlord_marketplace::RefundJob {
                context: marketplace.clone(),
            },
        )
        .handle(
            landlord_marketplace::TRANSFER_JOB,
            landlord_marketplace::TransferJob {
                context: marketplace,
            },
        ))
}

/// The key that seals secrets inside queued jobs: configured, or generated
/// once into the data directory (like the token signing key).
fn payload_cipher(config: &Config) -> anyhow::Result<PayloadCipher> {
    let (key, source) = resolve_secret(
        config
            .payload_encryption_key
            .as_ref()
            .map(|k| k.expose_str()),
        &config.data_dir,
        "payload_encryption_key",
    )
    .with_context(|| {
        format!(
            "cannot keep the generated payload encryption key in {}",
            config.data_dir.display()
        )
    })?;
    match source {
        SecretSource::GeneratedAt(path) => tracing::warn!(
            path = %path.display(),
            "no payload_encryption_key configured: generated one and kept it in the data directory; \
             set LANDLORD_PAYLOAD_ENCRYPTION_KEY to the same value on every instance when running several"
        ),
        SecretSource::LoadedFrom(path) => tracing::info!(
            path = %path.display(),
            "no payload_encryption_key configured: using the one generated earlier in the data directory"
        ),
        SecretSource::Configured => {}
    }
    Ok(PayloadCipher::new(&key))
}

async fn connect_and_migrate(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(config).await.context("database_url")?;
    db.migrate(crate::routes::MODULE_MIGRATIONS).await?;
    // The full-text index differs by backend, so it is not a migration.
    let mut conn = db.pool().acquire().await?;
    landlord_marketplace::store::prepare_search(&mut conn)
        .await
        .context("cannot create the marketplace's search index")?;
    drop(conn);
    Ok(db)
}

/// `landlord serve`: runs until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    let app = Application::build(config).await?;
    app.run_until(stop).await
}

/// `landlord set-plan`: moves an organization to a plan of the catalog, at
/// once. The move is recorded as a plan change, so the month is billed by
/// the plans in force before and after it (usage already made keeps its
/// plan's price); it drops any scheduled downgrade.
pub async fn set_plan(config: Config, organization_id: &str, plan: &str) -> anyhow::Result<()> {
    let Some(target) = config.plan(plan) else {
        let names: Vec<&str> = config.plans.keys().map(String::as_str).collect();
        anyhow::bail!("plan '{plan}' is not in the catalog ({})", names.join(", "));
    };
    let Some(id) = landlord_core::ids::OrganizationId::parse(organization_id) else {
        anyhow::bail!("no organization has the id {organization_id}");
    };
    let db = connect_and_migrate(&config).await?;
    let mut tx = db.begin().await?;
    let Some(organization) = landlord_identity::store::organization_by_id(&mut *tx, &id).await?
    else {
        drop(tx);
        db.close().await;
        anyhow::bail!("no organization has the id {organization_id}");
    };
    if organization.plan != plan {
        landlord_billing::store::change_plan(
            &mut tx,
            &organization.id,
            &organization.plan,
            plan,
            None,
            0,
            &target.currency,
            landlord_core::Timestamp::now(),
        )
        .await?;
    }
    tx.commit().await?;
    db.close().await;
    tracing::info!(organization = organization_id, plan, "plan set");
    Ok(())
}

/// `landlord close-period`: closes a month into billing cycles now (the
/// schedule does it on the 1st at 00:00 UTC). Safe to run again.
pub async fn close_period(config: Config, month: &str) -> anyhow::Result<()> {
    let period = Period::parse(month)
        .ok_or_else(|| anyhow::anyhow!("--month: '{month}' is not a month such as 2026-10"))?;
    // Checked again by the close itself; here for a message naming the flag.
    landlord_billing::ensure_finished(period, landlord_core::Timestamp::now())
        .map_err(|error| anyhow::anyhow!("--{error}"))?;
    let db = connect_and_migrate(&config).await?;
    let report = landlord_billing::close_period(&db, &config, period).await?;
    println!(
        "{}: {} cycle(s) created, {} already closed",
        period.key(),
        report.created,
        report.existing
    );
    db.close().await;
    Ok(())
}

/// `landlord make-admin`: designates a platform administrator.
pub async fn make_admin(config: Config, email: &str) -> anyhow::Result<()> {
    let db = connect_and_migrate(&config).await?;
    let granted =
        landlord_identity::store::grant_platform_admin(db.pool(), &email.trim().to_lowercase())
            .await?;
    db.close().await;
    if !granted {
        anyhow::bail!("no account with the email {email} (or it is already an administrator)");
    }
    println!("{email} is now a platform administrator");
    Ok(())
}

/// `landlord apps rotate-signing-key`: a new key signs ID tokens from now
/// on (each instance picks it up within a minute); the old one stays in
/// the JWKS until its tokens have expired. Prints the new key's id.
pub async fn rotate_signing_key(config: Config) -> anyhow::Result<()> {
    let cipher = payload_cipher(&config)?;
    let ttl = std::time::Duration::from_secs(
        config
            .section::<landlord_apps::config::AppsConfig>()
            .id_token_ttl_secs,
    );
    let db = connect_and_migrate(&config).await?;
    let kid = landlord_apps::signing::rotate(&db, &cipher, ttl).await;
    db.close().await;
    println!("{}", kid?);
    Ok(())
}

/// `landlord migrate`: applies pending migrations and exits.
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = connect_and_migrate(&config).await?;
    tracing::info!("migrations applied");
    db.close().await;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled, so a signal
/// that arrives while the server is still starting is not lost (and does
/// not kill the process with the default action).
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {},
                    _ = interrupt.recv() => {},
                }
            }
            (terminate, interrupt) => {
                let error = terminate.err().or(interrupt.err());
                tracing::error!(
                    ?error,
                    "cannot listen for SIGTERM/SIGINT; stop with SIGKILL"
                );
                std::future::pending::<()>().await;
            }
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    }
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested: finishing in-flight requests");
    }
}
