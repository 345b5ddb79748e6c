//! Runs the pure analysis off the async threads, under a time budget, with
//! a configuration that can be swapped on SIGHUP.
//!
//! The core is synchronous and CPU-bound, so each scan runs on tokio's
//! blocking pool. A scan that outlives `[limits] max_scan_ms` is abandoned
//! by the caller (its thread finishes in the background, holding a permit so
//! runaway scans cannot pile up) and the message follows the interface's
//! failure mode. A panic in the analysis is caught the same way.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use phishgate_core::{Config, Engine, Envelope, Facts, ScanInput, ScanResult};
use tokio::sync::Semaphore;

use crate::disposition::{Disposition, Failure};
use crate::metrics::{Interface, Metrics};
use crate::settings::Settings;

/// Compiles a configuration into an engine, with the classifier model it
/// names (`[classifier] model`, read here: the analysis reads no files) or
/// the shipped one.
///
/// # Errors
/// A configuration the engine refuses, or a model file that cannot be read
/// or is damaged (named in the message).
pub fn engine_for(config: Config) -> anyhow::Result<Engine> {
    let path = config.classifier.model.clone();
    let mut engine = Engine::new(config)?;
    if !path.is_empty() {
        let bytes =
            std::fs::read(&path).map_err(|e| anyhow::anyhow!("[classifier] model {path}: {e}"))?;
        let model = phishgate_core::learn::Model::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("[classifier] model {path}: {e}"))?;
        engine.set_model(Some(Arc::new(model)));
    }
    Ok(engine)
}

/// Engine and settings built from one version of the configuration.
pub struct Loaded {
    /// The compiled analysis configuration.
    pub engine: Engine,
    /// The gateway settings.
    pub settings: Settings,
    /// Authentication and DNS lists, when the configuration turns them on.
    pub enricher: Option<Arc<crate::enrich::Enricher>>,
}

impl Loaded {
    /// Reads and compiles a configuration file (shipped defaults when `None`).
    pub fn load(path: Option<&PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<Loaded> {
        let config = match path {
            None => Config::from_toml_str("")?,
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    anyhow::anyhow!("cannot read configuration {}: {e}", p.display())
                })?;
                Config::from_toml_str(&text)
                    .map_err(|e| anyhow::anyhow!("configuration {}: {e}", p.display()))?
            }
        };
        Loaded::from_config(config, data_dir)
    }

    /// Compiles a configuration.
    pub fn from_config(config: Config, data_dir: Option<PathBuf>) -> anyhow::Result<Loaded> {
        let settings = Settings::from_config(&config, data_dir)?;
        let enricher =
            crate::enrich::Enricher::from_config(&config, crate::enrich::Purpose::Gateway)?
                .map(Arc::new);
        let engine = engine_for(config)?;
        Ok(Loaded {
            engine,
            settings,
            enricher,
        })
    }

    /// The same configuration judging with `model` (the organisation's
    /// model from the store).
    pub fn with_model(&self, model: Arc<phishgate_core::learn::Model>) -> Loaded {
        Loaded {
            engine: self.engine.with_model(model),
            settings: self.settings.clone(),
            enricher: self.enricher.clone(),
        }
    }
}

/// The outcome of scanning one message.
pub struct Outcome {
    /// The full result, when the scan finished.
    pub result: Option<ScanResult>,
    /// What to do with the message.
    pub disposition: Disposition,
    /// Time spent (including waiting for a scan slot).
    pub elapsed: Duration,
    /// The configuration the message was judged by.
    pub loaded: Arc<Loaded>,
}

/// Shared scanner: reloadable configuration, bounded blocking work, metrics.
pub struct Scanner {
    current: RwLock<Arc<Loaded>>,
    slots: Arc<Semaphore>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// The store, once `serve` opened it (history, quarantine, sender
    /// memory); absent in unit tests of the API.
    pub recorder: std::sync::OnceLock<Arc<crate::record::Recorder>>,
    /// The organisation's model from the store (version, model), applied to
    /// every configuration in force, including after a reload.
    shared_model: RwLock<Option<(i64, Arc<phishgate_core::learn::Model>)>>,
}

impl Scanner {
    /// A scanner over a loaded configuration. `slots` bounds the scans
    /// running at once (including abandoned ones still finishing).
    pub fn new(loaded: Loaded, slots: usize) -> Scanner {
        Scanner {
            current: RwLock::new(Arc::new(loaded)),
            slots: Arc::new(Semaphore::new(slots.max(1))),
            metrics: Arc::new(Metrics::default()),
            recorder: std::sync::OnceLock::new(),
            shared_model: RwLock::new(None),
        }
    }

    /// The version of the store's model in force, if one is.
    pub fn shared_model_version(&self) -> Option<i64> {
        match self.shared_model.read() {
            Ok(g) => g.as_ref().map(|m| m.0),
            Err(p) => p.into_inner().as_ref().map(|m| m.0),
        }
    }

    /// Judges from now on with the organisation's model `version` (sessions
    /// in flight keep theirs); kept across configuration reloads.
    pub fn set_shared_model(&self, version: i64, model: Arc<phishgate_core::learn::Model>) {
        match self.shared_model.write() {
            Ok(mut g) => *g = Some((version, Arc::clone(&model))),
            Err(p) => *p.into_inner() = Some((version, Arc::clone(&model))),
        }
        // Built from the configuration in force under its lock, so a reload
        // at the same moment is not overwritten by the older configuration
        // (a reload applies the shared model itself, see `replace`).
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = Arc::new(g.with_model(model));
        *g = next;
    }

    /// The configuration in force.
    pub fn loaded(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the configuration (SIGHUP). Sessions in flight keep the one
    /// they started with.
    pub fn replace(&self, loaded: Loaded) {
        // The shared model is read under the configuration's lock: a model
        // set at the same moment is either applied here or applied by
        // `set_shared_model` to this configuration, never lost.
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let shared = match self.shared_model.read() {
            Ok(m) => m.as_ref().map(|m| Arc::clone(&m.1)),
            Err(p) => p.into_inner().as_ref().map(|m| Arc::clone(&m.1)),
        };
        *g = Arc::new(match shared {
            Some(model) => loaded.with_model(model),
            None => loaded,
        });
    }

    /// Scans one message and decides what to do with it. Never fails: a
    /// timeout or a crash becomes a [`Failure`] in the disposition, and the
    /// caller applies its failure mode.
    pub async fn scan(
        &self,
        iface: Interface,
        raw: Arc<Vec<u8>>,
        envelope: Envelope,
        facts: Facts,
    ) -> Outcome {
        let loaded = self.loaded();
        let start = Instant::now();
        if raw.len() > loaded.settings.max_message_bytes {
            self.metrics.error(iface, "too-large");
            return Outcome {
                result: None,
                disposition: Disposition::failed(Failure::TooLarge, &loaded.settings),
                elapsed: start.elapsed(),
                loaded,
            };
        }
        // Sender memory, when there is a store: the From address is read
        // from the header block alone, then looked up (bounded in time).
        let mut facts = facts;
        if facts.sender.is_none() {
            if let (Some(rec), Some(from)) = (self.recorder.get(), phishgate_core::peek_from(&raw))
            {
                facts.sender = rec.sender_history(&from, &self.metrics, iface).await;
            }
        }
        // The parsed message, when enrichment needs it (clamd scans the
        // attachments): built off the async threads within the scan budget,
        // then analysed as it is.
        let mut view: Option<phishgate_core::view::MessageView> = None;
        if loaded.enricher.as_ref().is_some_and(|e| e.needs_view()) {
            let raw2 = Arc::clone(&raw);
            let limits = loaded.engine.config().limits;
            let build = tokio::task::spawn_blocking(move || {
                phishgate_core::view::MessageView::build(&raw2, &limits)
            });
            if let Ok(Ok(v)) = tokio::time::timeout(loaded.settings.scan_timeout, build).await {
                view = Some(v);
            }
        }
        // Authentication, DNS lists, feeds, antivirus (each bounded).
        let stamp = match &loaded.enricher {
            Some(e) => e.enrich(&raw, view.as_ref(), &envelope, &mut facts).await,
            None => crate::enrich::Stamp::default(),
        };
        // Two bounds: waiting for a scan slot (a burst queues here), then the
        // scan itself (`max_scan_ms`). A scan abandoned at its budget keeps
        // its slot until its thread finishes, so runaway scans cannot pile up.
        let permit = match tokio::time::timeout(
            loaded.settings.scan_queue_timeout,
            Arc::clone(&self.slots).acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(Failure::Internal("scanner closed".into())),
            Err(_) => {
                self.metrics.error(iface, "overload");
                Err(Failure::Timeout)
            }
        };
        let res = match permit {
            Err(f) => Err(f),
            Ok(permit) => {
                let loaded2 = Arc::clone(&loaded);
                let handle = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let input = ScanInput {
                        raw: &raw,
                        envelope: &envelope,
                        facts: &facts,
                    };
                    match &view {
                        Some(v) => loaded2.engine.scan_view(v, &input),
                        None => loaded2.engine.scan(&input),
                    }
                });
                match tokio::time::timeout(loaded.settings.scan_timeout, handle).await {
                    Ok(Ok(r)) => Ok(r),
                    Ok(Err(e)) => Err(Failure::Internal(if e.is_panic() {
                        "the analysis panicked".to_string()
                    } else {
                        e.to_string()
                    })),
                    Err(_) => Err(Failure::Timeout),
                }
            }
        };
        let elapsed = start.elapsed();
        self.metrics.scan_latency(elapsed);
        match res {
            Ok(result) => {
                let mut disposition = Disposition::new(&result, &loaded.engine, &loaded.settings);
                disposition.stamp(&stamp);
                Outcome {
                    result: Some(result),
                    disposition,
                    elapsed,
                    loaded,
                }
            }
            Err(failure) => {
                self.metrics.error(iface, failure.token());
                tracing::warn!(interface = iface.as_str(), error = failure.token(), detail = ?failure, "scan failed");
                // Our authentication stamp does not depend on the analysis:
                // forged results go and ours is added on this path too.
                let mut disposition = Disposition::failed(failure, &loaded.settings);
                disposition.stamp(&stamp);
                Outcome {
                    result: None,
                    disposition,
                    elapsed,
                    loaded,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scans_and_times_out() {
        let config = Config::from_toml_str("").unwrap();
        let scanner = Scanner::new(Loaded::from_config(config, None).unwrap(), 2);
        let raw = Arc::new(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n".to_vec());
        let o = scanner
            .scan(
                Interface::Http,
                raw.clone(),
                Envelope::default(),
                Facts::default(),
            )
            .await;
        assert!(o.result.is_some() && o.disposition.failure.is_none());

        // A budget of 1 ms on a 2 MB message cannot be met.
        let config = Config::from_toml_str("[limits]\nmax_scan_ms = 1\n").unwrap();
        scanner.replace(Loaded::from_config(config, None).unwrap());
        let mut big =
            b"From: a@b.example\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n".to_vec();
        for i in 0..40_000 {
            big.extend_from_slice(
                format!("<a href=\"http://x{i}.example/\">link {i}</a><br>\r\n").as_bytes(),
            );
        }
        let o = scanner
            .scan(
                Interface::Http,
                Arc::new(big),
                Envelope::default(),
                Facts::default(),
            )
            .await;
        assert_eq!(o.disposition.failure, Some(Failure::Timeout));
        assert!(scanner.metrics.render().contains("kind=\"timeout\"} 1"));
    }

    #[tokio::test]
    async fn too_large_is_a_failure_not_a_scan() {
        let config = Config::from_toml_str("[gateway]\nmax_message_bytes = 2048\n").unwrap();
        let scanner = Scanner::new(Loaded::from_config(config, None).unwrap(), 1);
        let o = scanner
            .scan(
                Interface::Smtp,
                Arc::new(vec![b'a'; 5000]),
                Envelope::default(),
                Facts::default(),
            )
            .await;
        assert_eq!(o.disposition.failure, Some(Failure::TooLarge));
    }
}
