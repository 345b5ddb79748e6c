//! `phishgate serve`: binds the listeners, runs them until SIGTERM/SIGINT,
//! reloads the configuration on SIGHUP, and drains sessions in flight on
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::http::{router, ApiState};
use crate::scanner::{Loaded, Scanner};

/// How `serve` was started.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Configuration file (re-read on SIGHUP); shipped defaults when absent.
    pub config: Option<PathBuf>,
    /// State directory; wins over `[storage] data_dir`.
    pub data_dir: Option<PathBuf>,
}

/// Counts sessions in flight so a shutdown can wait for them.
#[derive(Clone, Default)]
pub struct Tracker {
    inner: Arc<(AtomicUsize, Notify)>,
}

/// Held by a session; dropping it marks the session done.
pub struct TrackerToken(Tracker);

impl Tracker {
    /// A session starts.
    pub fn start(&self) -> TrackerToken {
        self.inner.0.fetch_add(1, Ordering::SeqCst);
        TrackerToken(self.clone())
    }
    /// Sessions in flight.
    pub fn in_flight(&self) -> usize {
        self.inner.0.load(Ordering::SeqCst)
    }
    /// Waits until no session is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.1.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for TrackerToken {
    fn drop(&mut self) {
        if self.0.inner.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.inner.1.notify_waiters();
        }
    }
}

/// Accepts connections until shutdown, at most `[gateway] max_sessions`
/// at once, each run by `session` in its own task with a session gauge and
/// a shutdown token. Over the cap, `refusal` (if any) is written and the
/// connection closed; accept errors (EMFILE...) back off instead of spinning.
pub(crate) async fn capped_accept_loop<F, Fut>(
    listener: TcpListener,
    scanner: Arc<Scanner>,
    tracker: Tracker,
    mut shutdown: Shutdown,
    iface: crate::metrics::Interface,
    refusal: Option<&'static [u8]>,
    session: F,
) where
    F: Fn(tokio::net::TcpStream, SocketAddr, Arc<Scanner>, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    use tokio::io::AsyncWriteExt as _;
    let max = scanner.loaded().settings.max_sessions;
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => return,
            r = listener.accept() => r,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(interface = iface.as_str(), error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            scanner.metrics.error(iface, "overload");
            tracing::warn!(interface = iface.as_str(), %peer, max, "connection refused: too many sessions");
            if let Some(text) = refusal {
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), stream.write_all(text)).await;
                });
            }
            continue;
        };
        let token = tracker.start();
        let fut = session(stream, peer, Arc::clone(&scanner), shutdown.clone());
        let scanner = Arc::clone(&scanner);
        tokio::spawn(async move {
            let _permit = permit;
            let _token = token;
            let _gauge = scanner.metrics.session(iface);
            fut.await;
        });
    }
}

/// A shutdown signal every task can wait on.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Resolves when shutdown starts.
    pub async fn wait(&mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }
    /// True once shutdown started.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} ({what}); is another process using it? change [listen] {what}"
        )
    })
}

/// Sets up logging (text or JSON lines on stderr; `RUST_LOG` filters).
pub fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

/// Runs the gateway until SIGTERM or SIGINT.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    // Signal handlers first: a SIGHUP or SIGTERM that arrives while the
    // configuration compiles must not kill the process (systemd's reload
    // right after start).
    let signals = Signals::install()?;
    let loaded = Loaded::load(opts.config.as_ref(), opts.data_dir.clone())?;
    init_logging(&loaded.settings.log_format);
    let (tx, rx) = watch::channel(false);
    let Signals { stop, hup } = signals;
    let shutdown_signal = async move {
        stop.await;
        let _ = tx.send(true);
    };
    run(loaded, opts, Shutdown(rx), shutdown_signal, hup).await
}

/// The process's signal streams, installed before anything else.
struct Signals {
    stop: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let stop = Box::pin(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            }
        });
        Ok(Signals {
            stop,
            hup: Some(hup),
        })
    }
}

/// Runs the listeners of `loaded` until `stop` resolves, then drains.
pub async fn run(
    loaded: Loaded,
    opts: ServeOptions,
    shutdown: Shutdown,
    stop: impl Future<Output = ()> + Send + 'static,
    hup: Option<tokio::signal::unix::Signal>,
) -> anyhow::Result<()> {
    let settings = loaded.settings.clone();
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {} (use --data-dir or [storage] data_dir)",
            settings.data_dir.display()
        )
    })?;
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let org = if loaded.engine.config().organization.name.is_empty() {
        loaded.engine.config().organization.domains.join(",")
    } else {
        loaded.engine.config().organization.name.clone()
    };
    let own_domains = loaded.engine.config().organization.domains.clone();
    let scanner = Arc::new(Scanner::new(loaded, slots));
    // The store: history, quarantine, sender memory. A store that cannot be
    // opened stops the start with a clear error (the MTA applies its
    // failure mode meanwhile).
    let recorder =
        crate::record::Recorder::open(&settings, &org, &own_domains, Arc::clone(&scanner.metrics))
            .await
            .with_context(|| "cannot open the store ([storage] url / --data-dir)".to_string())?;
    tracing::info!(store = %recorder.store.label(), "store open");
    let recorder = Arc::new(recorder);
    let _ = scanner.recorder.set(Arc::clone(&recorder));
    // The organisation's model, shared by every node through the store:
    // loaded before the first message, then watched for newer versions.
    if let Err(e) = crate::model::refresh(&scanner, &recorder.store).await {
        tracing::warn!(error = %format!("{e:#}"), "the organisation's model in the store is not usable; judging with the configured one");
    }
    tokio::spawn(crate::model::watch(
        Arc::clone(&scanner),
        Arc::clone(&recorder.store),
        shutdown.clone(),
    ));
    // Retention: purge old history and expire old quarantine once an hour.
    {
        let recorder = Arc::clone(&recorder);
        let (retention, qdays) = (settings.retention_days, settings.quarantine_days);
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let day = 86_400_000i64;
                let now = crate::record::now_ms();
                if retention > 0 {
                    match recorder
                        .store
                        .purge_history(now - i64::from(retention) * day)
                        .await
                    {
                        Ok(n) if n > 0 => tracing::info!(rows = n, "history purged"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "history purge failed"),
                    }
                }
                if qdays > 0 {
                    let actor = phishgate_store::Actor {
                        who: "phishgate".into(),
                        from: "retention".into(),
                    };
                    match recorder
                        .store
                        .quarantine_expire(now - i64::from(qdays) * day, &actor)
                        .await
                    {
                        Ok(n) if n > 0 => tracing::info!(messages = n, "quarantine expired"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "quarantine expiry failed"),
                    }
                }
                tokio::select! {
                    _ = sd.wait() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
                }
            }
        });
    }
    let tracker = Tracker::default();

    // Bind every listener before serving any, so a process that answers
    // /ping has all its ports open (and a busy port fails the start).
    let http = match settings.http {
        Some(addr) => Some((addr, bind(addr, "http").await?)),
        None => None,
    };
    let milter = match settings.milter {
        Some(addr) => Some((addr, bind(addr, "milter").await?)),
        None => None,
    };
    let smtp = match settings.smtp {
        Some(addr) => Some((addr, bind(addr, "smtp").await?)),
        None => None,
    };
    let mut tasks = tokio::task::JoinSet::new();
    if let Some((addr, listener)) = milter {
        tracing::info!(%addr, "milter listening");
        tasks.spawn(crate::milter::accept_loop(
            listener,
            Arc::clone(&scanner),
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    if let Some((addr, listener)) = smtp {
        tracing::info!(%addr, relay = %settings.relay, "SMTP content filter listening");
        tasks.spawn(crate::smtp::accept_loop(
            listener,
            Arc::clone(&scanner),
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    if let Some((addr, listener)) = http {
        tracing::info!(%addr, "HTTP API listening (/checkv2, /api/v1/scan, /ping, /metrics)");
        let app = router(ApiState::new(Arc::clone(&scanner), settings.max_sessions));
        let listener = crate::guarded::GuardedListener::new(
            listener,
            settings.max_sessions,
            settings.idle_timeout,
        );
        let mut sd = shutdown.clone();
        tasks.spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async move { sd.wait().await })
                .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
    }
    if tasks.is_empty() {
        anyhow::bail!("every listener is disabled in [listen]: nothing to serve");
    }
    tracing::info!(
        data_dir = %settings.data_dir.display(),
        config = %opts.config.as_ref().map_or("(defaults)".to_string(), |p| p.display().to_string()),
        "phishgate serve started"
    );

    // SIGHUP: reload the configuration; a bad file keeps the old one. The
    // compile is CPU work: off the async workers.
    if let Some(mut hup) = hup {
        let scanner = Arc::clone(&scanner);
        let opts = opts.clone();
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = sd.wait() => return,
                    r = hup.recv() => if r.is_none() { return },
                }
                let (scanner, opts) = (Arc::clone(&scanner), opts.clone());
                let _ = tokio::task::spawn_blocking(move || reload(&scanner, &opts)).await;
            }
        });
    }

    stop.await;
    let grace = settings.shutdown_grace;
    tracing::info!(
        in_flight = tracker.in_flight(),
        grace_secs = grace.as_secs(),
        "draining sessions"
    );
    let drained = tokio::time::timeout(grace, async {
        while tasks.join_next().await.is_some() {}
        tracker.idle().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            in_flight = tracker.in_flight(),
            "sessions still open after the grace period; closing them (the MTA retries)"
        );
    }
    tracing::info!("phishgate serve stopped");
    Ok(())
}

/// Re-reads the configuration file; keeps the old one when it is invalid.
pub fn reload(scanner: &Scanner, opts: &ServeOptions) {
    match Loaded::load(opts.config.as_ref(), opts.data_dir.clone()) {
        Ok(new) => {
            let old = scanner.loaded();
            if new.settings.milter != old.settings.milter
                || new.settings.smtp != old.settings.smtp
                || new.settings.http != old.settings.http
            {
                tracing::warn!("[listen] changed: listeners move only on restart");
            }
            scanner.replace(new);
            tracing::info!("configuration reloaded");
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the previous configuration")
        }
    }
}

/// Idle timeout helper: a future that fails after `d`.
pub async fn with_timeout<T>(d: Duration, f: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(d, f).await.ok()
}
