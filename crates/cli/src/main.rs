//! `phishgate`: the command-line interface.
//!
//! Exit codes (documented in the README):
//! - 0: every message scanned was accepted;
//! - 1: at least one message got `warn`, `quarantine` or `reject`;
//! - 2: an error: bad configuration, an unreadable path, or input that is not
//!   mail (the other messages are still scanned and reported).

mod admin;
mod bench;
mod eval;
mod input;
mod learn;
mod loadgen;
mod output;
mod train;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use phishgate_core::{Action, Config, Engine, Envelope, Facts, Lang, ScanInput};
use rayon::prelude::*;

use input::Item;
use output::{Format, Outcome, Printer};

/// phishgate: stops phishing aimed at an organisation's official mail.
#[derive(Parser)]
#[command(name = "phishgate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Vi,
    En,
}

#[derive(Subcommand)]
enum Command {
    /// Scan messages: files, folders (recursively), mbox files, Maildirs, or - for stdin.
    Scan {
        /// Configuration file (TOML); shipped defaults when absent.
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Output format: readable text, or one JSON object per message per line.
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Language of explanations.
        #[arg(long, value_enum, default_value_t = LangArg::Vi)]
        lang: LangArg,
        /// Also show symbols that scored 0 (informational).
        #[arg(long, short = 'v')]
        verbose: bool,
        /// Never colour the output (also: NO_COLOR).
        #[arg(long)]
        no_color: bool,
        /// Worker threads (default: all cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// What to scan.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Write a commented starter configuration.
    Init {
        /// The organisation's mail domain, e.g. laocai.gov.vn.
        #[arg(long)]
        domain: String,
        /// The organisation's name.
        #[arg(long, default_value = "")]
        name: String,
        /// Where to write it (default: standard output).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the effective configuration (defaults merged with FILE) as TOML.
    Config {
        /// Configuration file; only the shipped defaults when absent.
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
    },
    /// Measure analysis throughput on one core: messages/s, MB/s and peak memory.
    Bench {
        /// Configuration file.
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Scan at most this many messages.
        #[arg(long)]
        limit: Option<usize>,
        /// Passes over the messages.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Folders or files of messages.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Measure detection on labelled folders: rates, false positives, ROC (text, JSON, HTML).
    ///
    /// Messages are normalised first (collection marks removed) and split
    /// by campaign; `--split test` evaluates only the held-out third.
    Eval(eval::Args),
    /// Held messages: list, show, release, delete.
    #[command(subcommand)]
    Quarantine(admin::QuarantineCmd),
    /// The organisation's classifier model in the store: status, push, pull.
    #[command(subcommand)]
    Model(admin::ModelCmd),
    /// Users' reports of suspicious mail: add (e.g. from the report
    /// address), list, show, confirm, dismiss.
    #[command(subcommand)]
    Report(admin::ReportCmd),
    /// Search the history of scanned messages.
    History(admin::HistoryArgs),
    /// The audit log: releases, deletions, expiries (who, when, from where).
    Audit {
        #[command(flatten)]
        store: admin::StoreArgs,
        /// How many entries.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only newer than this age (e.g. 7d).
        #[arg(long)]
        since: Option<String>,
    },
    /// Copy the store to FILE (SQLite online backup; PostgreSQL: use pg_dump).
    Backup {
        #[command(flatten)]
        store: admin::StoreArgs,
        /// Destination file.
        file: PathBuf,
    },
    /// Delete history and expire held messages older than an age (e.g. 90d).
    Purge {
        #[command(flatten)]
        store: admin::StoreArgs,
        /// Age: 90d, 12h, 30m.
        #[arg(long)]
        older_than: String,
    },
    /// Load-test a running `phishgate serve` on loopback (HTTP /checkv2 and milter).
    Loadgen(loadgen::Args),
    /// Teach the classifier: messages that are phishing/spam or legitimate
    /// (bounded step per message; the organisation's model in the store,
    /// shared by every node, or a model file with --model).
    Learn(learn::LearnArgs),
    /// Train the learned classifier on labelled folders (the train part of
    /// the campaign split; see the README, "Measuring detection").
    Train(train::TrainArgs),
    /// Run the gateway: milter, SMTP content filter and HTTP API (see `[listen]`).
    ///
    /// SIGHUP reloads the configuration; SIGTERM/SIGINT stop after the
    /// sessions in flight finish.
    Serve {
        /// Configuration file (TOML); shipped defaults when absent.
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Where state lives (quarantine); default `[storage] data_dir` or /var/lib/phishgate.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("phishgate: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs an administration command on a small runtime.
fn admin_rt(f: impl std::future::Future<Output = Result<u8>>) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let code = rt.block_on(f)?;
    Ok(ExitCode::from(code))
}

/// Reads and merges a configuration file; errors name the file and line.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    match path {
        None => Ok(Config::from_toml_str("")?),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read configuration {}", p.display()))?;
            Config::from_toml_str(&text).with_context(|| format!("configuration {}", p.display()))
        }
    }
}

fn build_engine(path: Option<&PathBuf>) -> Result<Engine> {
    let config = load_config(path)?;
    phishgate_gateway::scanner::engine_for(config)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Scan {
            config,
            format,
            lang,
            verbose,
            no_color,
            jobs,
            paths,
        } => {
            let cfg = load_config(config.as_ref())?;
            // The gateway's enrichment (feeds, clamd, DNS lists) when the
            // configuration turns it on, so a saved message gets the
            // verdict the gateway gave.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let enricher = {
                let _guard = rt.enter();
                phishgate_gateway::enrich::Enricher::from_config(
                    &cfg,
                    phishgate_gateway::enrich::Purpose::Stored,
                )?
            };
            let engine = phishgate_gateway::scanner::engine_for(cfg)?;
            let enrich = enricher.as_ref().map(|e| (e, rt.handle().clone()));
            let lang = match lang {
                LangArg::Vi => Lang::Vi,
                LangArg::En => Lang::En,
            };
            let color = !no_color
                && std::env::var_os("NO_COLOR").is_none()
                && std::io::stdout().is_terminal()
                && format == Format::Text;
            scan(&engine, enrich, &paths, format, lang, verbose, color, jobs)
        }
        Command::Init {
            domain,
            name,
            output,
            force,
        } => {
            if domain.trim().is_empty() || domain.contains('@') || domain.contains(' ') {
                bail!("--domain must be a domain name such as laocai.gov.vn");
            }
            let text = phishgate_core::config::starter_toml(&domain, &name.replace('"', "'"));
            match output {
                None => print!("{text}"),
                Some(p) => {
                    if p.exists() && !force {
                        bail!("{} exists; use --force to overwrite", p.display());
                    }
                    std::fs::write(&p, text)
                        .with_context(|| format!("cannot write {}", p.display()))?;
                    eprintln!("phishgate: wrote {}", p.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { config } => {
            let c = load_config(config.as_ref())?;
            print!(
                "{}",
                toml::to_string_pretty(&c).context("cannot print configuration")?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            config,
            limit,
            rounds,
            json,
            paths,
        } => {
            let engine = build_engine(config.as_ref())?;
            bench::run(&engine, &paths, limit, rounds.max(1), json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadgen(args) => loadgen::run(args),
        Command::Learn(args) => admin_rt(learn::run(args)),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Quarantine(cmd) => admin_rt(admin::quarantine(cmd)),
        Command::Model(cmd) => admin_rt(admin::model(cmd)),
        Command::Report(cmd) => admin_rt(admin::report(cmd)),
        Command::History(a) => admin_rt(admin::history(a)),
        Command::Backup { store, file } => admin_rt(admin::backup(store, file)),
        Command::Audit {
            store,
            limit,
            since,
        } => admin_rt(admin::audit(store, limit, since)),
        Command::Purge { store, older_than } => admin_rt(admin::purge(store, older_than)),
        Command::Serve { config, data_dir } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let result = rt.block_on(phishgate_gateway::serve(phishgate_gateway::ServeOptions {
                config,
                data_dir,
            }));
            // A scan abandoned at its time budget may still be running on a
            // blocking thread: do not wait for it.
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            result?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Messages handed to the worker threads at a time (keeps output in order
/// and memory bounded on huge mailboxes).
const BATCH: usize = 512;

/// The enrichment of `phishgate scan`, with the runtime it runs on.
type Enrich<'a> = Option<(
    &'a phishgate_gateway::enrich::Enricher,
    tokio::runtime::Handle,
)>;

#[allow(clippy::too_many_arguments)]
fn scan(
    engine: &Engine,
    enrich: Enrich<'_>,
    paths: &[String],
    format: Format,
    lang: Lang,
    verbose: bool,
    color: bool,
    jobs: Option<usize>,
) -> Result<ExitCode> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let items = input::expand(paths);
    let progress = if items.len() >= 50 && std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(items.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} messages [{elapsed_precise}] {wide_bar} {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    let printer = Printer {
        engine,
        format,
        lang,
        verbose,
        color,
    };
    let envelope = Envelope::default();
    let facts = Facts::default();
    let started = std::time::Instant::now();
    let mut counts = [0usize; 4];
    let mut skipped = 0usize;
    let errors = AtomicUsize::new(0);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for batch in items.chunks(BATCH) {
        let outcomes: Vec<Outcome> = pool.install(|| {
            batch
                .par_iter()
                .map(|item| {
                    let o = scan_item(engine, enrich.as_ref(), item, &envelope, &facts);
                    if let Some(pb) = &progress {
                        pb.inc(1);
                    }
                    o
                })
                .collect()
        });
        for o in outcomes {
            match &o {
                Outcome::Scanned { result, .. } => {
                    let idx = match result.action {
                        Action::Accept => 0,
                        Action::Warn => 1,
                        Action::Quarantine => 2,
                        Action::Reject => 3,
                    };
                    if let Some(c) = counts.get_mut(idx) {
                        *c += 1;
                    }
                }
                Outcome::Failed { .. } => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Skipped { .. } => skipped += 1,
            }
            let write = if progress.is_some() {
                // Keep the bar intact while printing.
                let mut buf = Vec::new();
                printer.print(&mut buf, &o)?;
                if let Some(pb) = &progress {
                    pb.suspend(|| out.write_all(&buf).and_then(|_| out.flush()))
                } else {
                    Ok(())
                }
            } else {
                printer.print(&mut out, &o)
            };
            if let Err(e) = write {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(ExitCode::from(2));
                }
                return Err(e.into());
            }
        }
    }
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    out.flush().ok();
    let errors = errors.load(Ordering::Relaxed);
    printer.summary(&counts, errors, skipped, started.elapsed())?;
    let flagged: usize = counts.iter().skip(1).sum();
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if flagged > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn scan_item(
    engine: &Engine,
    enrich: Option<&(&phishgate_gateway::enrich::Enricher, tokio::runtime::Handle)>,
    item: &Item,
    envelope: &Envelope,
    facts: &Facts,
) -> Outcome {
    let source = item.source();
    let data = match item {
        Item::Error { message, .. } => {
            return Outcome::Failed {
                source,
                message: message.clone(),
            }
        }
        Item::Bytes { data, .. } => std::borrow::Cow::Borrowed(data.as_slice()),
        Item::File(p, _) => match std::fs::read(p) {
            Ok(d) => std::borrow::Cow::Owned(d),
            Err(e) => {
                return Outcome::Failed {
                    message: format!("cannot read {source}: {e}"),
                    source,
                }
            }
        },
    };
    let found_in_folder = matches!(item, Item::File(_, false));
    if data.is_empty() {
        let message = "empty file: not an e-mail message".to_string();
        return if found_in_folder {
            Outcome::Skipped { source, message }
        } else {
            Outcome::Failed { source, message }
        };
    }
    let started = std::time::Instant::now();
    let mut result = match enrich {
        None => engine.scan(&ScanInput {
            raw: &data,
            envelope,
            facts,
        }),
        Some((enricher, rt)) => {
            let view = phishgate_core::view::MessageView::build(&data, &engine.config().limits);
            let mut facts = facts.clone();
            rt.block_on(enricher.enrich(&data, Some(&view), envelope, &mut facts));
            engine.scan_view(
                &view,
                &ScanInput {
                    raw: &data,
                    envelope,
                    facts: &facts,
                },
            )
        }
    };
    let took = started.elapsed();
    let budget = engine.config().limits.max_scan_ms;
    if took.as_micros() > u128::from(budget) * 1000 {
        result.symbols.push(phishgate_core::ScoredSymbol {
            name: "SCAN_TIME_EXCEEDED".into(),
            score: 0.0,
            weight: 1.0,
            group: "anomaly".into(),
            options: vec![format!("{} ms > {budget} ms", took.as_millis())],
            cancelled_by: None,
        });
    }
    if result.symbols.iter().any(|s| s.name == "NOT_MAIL") {
        let message = "not an e-mail message (no header lines at the start)".to_string();
        return if found_in_folder {
            Outcome::Skipped { source, message }
        } else {
            Outcome::Failed { source, message }
        };
    }
    Outcome::Scanned {
        source,
        result: Box::new(result),
    }
}
