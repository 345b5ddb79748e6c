//! Administration of what `serve` stored: `phishgate quarantine`,
//! `phishgate history`, `phishgate backup`, `phishgate purge`. They read the
//! same configuration as `serve` (`[storage] url`, `--data-dir`), so they
//! work against the SQLite file of one node or the PostgreSQL database of
//! several.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use phishgate_gateway::scanner::Loaded;
use phishgate_store::{Actor, HistoryQuery, QuarantineQuery, RcptState, Store};

/// Where the store is.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Configuration file (the same as for `serve`).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// State directory (the same as for `serve`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON (one object per line for lists); the same as `--format json`.
    #[arg(long = "json")]
    pub json_flag: bool,
    /// Output format.
    #[arg(long, value_parser = ["text", "json"])]
    pub format: Option<String>,
}

impl StoreArgs {
    /// Whether JSON was asked for (`--json` or `--format json`).
    pub fn json(&self) -> bool {
        self.json_flag || self.format.as_deref() == Some("json")
    }
}

/// `phishgate quarantine ...`
#[derive(Subcommand)]
pub enum QuarantineCmd {
    /// Held messages, newest first.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only recipients in this state (held, releasing, released, deleted, expired).
        #[arg(long)]
        state: Option<String>,
        /// Only messages to this recipient.
        #[arg(long)]
        rcpt: Option<String>,
        /// Only messages from this envelope sender.
        #[arg(long)]
        from: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One held message: envelope, verdict, recipients; `--raw` prints the message.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// Quarantine id.
        id: String,
        /// Print the raw message instead.
        #[arg(long)]
        raw: bool,
    },
    /// Re-inject a held message through `[relay] address` to all or some recipients.
    Release {
        #[command(flatten)]
        store: StoreArgs,
        /// Quarantine id.
        id: String,
        /// Only these recipients (repeatable).
        #[arg(long)]
        rcpt: Vec<String>,
    },
    /// The message is phishing: delete it for every recipient and, with
    /// `[classifier] learn_from_decisions`, teach the model so.
    Confirm {
        #[command(flatten)]
        store: StoreArgs,
        /// Quarantine id.
        id: String,
    },
    /// Delete a held message for all or some recipients.
    Delete {
        #[command(flatten)]
        store: StoreArgs,
        /// Quarantine id.
        id: String,
        /// Only these recipients (repeatable).
        #[arg(long)]
        rcpt: Vec<String>,
    },
}

/// `phishgate history` filters.
#[derive(Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Envelope sender (address or @domain).
    #[arg(long)]
    from: Option<String>,
    /// Recipient address.
    #[arg(long)]
    to: Option<String>,
    /// Words of the subject (with or without diacritics).
    #[arg(long)]
    subject: Option<String>,
    /// A link domain or the sender's domain.
    #[arg(long)]
    domain: Option<String>,
    /// accept, warn, quarantine, reject.
    #[arg(long)]
    action: Option<String>,
    /// A symbol name.
    #[arg(long)]
    symbol: Option<String>,
    /// Newer than this age: 30m, 12h, 7d.
    #[arg(long)]
    since: Option<String>,
    /// Older than this age.
    #[arg(long)]
    until: Option<String>,
    /// How many.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after this cursor (printed at the end of a page).
    #[arg(long)]
    cursor: Option<String>,
}

/// Parses an age such as `90d`, `12h`, `30m`, `45s` into milliseconds.
pub fn parse_age(s: &str) -> Result<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("age {s:?}: use e.g. 90d, 12h, 30m"))?;
    let ms = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" | "" => 1000,
        _ => bail!("age {s:?}: use e.g. 90d, 12h, 30m"),
    };
    Ok(n.saturating_mul(ms))
}

async fn open(args: &StoreArgs) -> Result<(Loaded, Store)> {
    let loaded = Loaded::load(args.config.as_ref(), args.data_dir.clone())?;
    let store = Store::open(&loaded.settings.storage_url, &loaded.settings.data_dir)
        .await
        .context("cannot open the store")?;
    Ok((loaded, store))
}

fn actor() -> Actor {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    Actor {
        who: user,
        from: format!("cli@{host}"),
    }
}

fn time(ms: i64) -> String {
    let secs = ms / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Runs a quarantine command; returns the process exit code.
pub async fn quarantine(cmd: QuarantineCmd) -> Result<u8> {
    match cmd {
        QuarantineCmd::List {
            store,
            state,
            rcpt,
            from,
            limit,
        } => {
            let (_, s) = open(&store).await?;
            let state = match state {
                None => None,
                Some(x) => Some(RcptState::parse(&x).with_context(|| {
                    format!("state {x:?}: use held, releasing, released, deleted or expired")
                })?),
            };
            let page = s
                .quarantine_list(&QuarantineQuery {
                    state,
                    recipient: rcpt,
                    sender: from,
                    limit,
                    ..QuarantineQuery::default()
                })
                .await?;
            for e in &page.items {
                if store.json() {
                    println!("{}", serde_json::to_string(e)?);
                } else {
                    let rcpts: Vec<String> = e
                        .rcpts
                        .iter()
                        .map(|r| format!("{} ({})", r.address, r.state.as_str()))
                        .collect();
                    println!(
                        "{}  {}  {:>6.2} {:<10} from {}  to {}\n    {}",
                        e.id,
                        time(e.received_at),
                        e.score,
                        e.action,
                        e.mail_from,
                        rcpts.join(", "),
                        e.subject
                    );
                }
            }
            if !store.json() {
                eprintln!("{} message(s)", page.items.len());
            }
            Ok(0)
        }
        QuarantineCmd::Show { store, id, raw } => {
            let (_, s) = open(&store).await?;
            if raw {
                use std::io::Write as _;
                let bytes = s.quarantine_raw(&id).await?;
                std::io::stdout().write_all(&bytes)?;
                return Ok(0);
            }
            let e = s
                .quarantine_get(&id)
                .await?
                .with_context(|| format!("no held message {id}"))?;
            if store.json() {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                println!("id:        {}", e.id);
                println!("received:  {}", time(e.received_at));
                println!("from:      {} {}", e.mail_from, e.mail_params.join(" "));
                println!("header:    {}", e.from_header.as_deref().unwrap_or("-"));
                println!("subject:   {}", e.subject);
                println!(
                    "verdict:   {} (score {:.2}): {}",
                    e.action, e.score, e.reason
                );
                println!("size:      {} bytes, sha256 {}", e.size, e.sha256);
                for r in &e.rcpts {
                    println!(
                        "rcpt:      {} {} ({} at {}{})",
                        r.address,
                        r.params.join(" "),
                        r.state.as_str(),
                        time(r.changed_at),
                        r.changed_by
                            .as_deref()
                            .map(|b| format!(" by {b}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        QuarantineCmd::Release { store, id, rcpt } => {
            let (loaded, s) = open(&store).await?;
            let rcpts = (!rcpt.is_empty()).then_some(rcpt);
            let report = phishgate_gateway::release::release(
                &loaded.settings,
                &s,
                &id,
                rcpts.as_deref(),
                &actor(),
            )
            .await?;
            if !report.already && !report.released.is_empty() {
                learn_decision(&loaded, &s, &id, false).await?;
            }
            if store.json() {
                println!("{}", serde_json::to_string(&report)?);
            } else if report.already {
                println!("{id}: nothing to release (already released or deleted)");
            } else {
                println!(
                    "{id}: released to {} via {} ({})",
                    report.released.join(", "),
                    loaded.settings.relay,
                    report.relay_reply
                );
            }
            Ok(0)
        }
        QuarantineCmd::Confirm { store, id } => {
            let (loaded, s) = open(&store).await?;
            learn_decision(&loaded, &s, &id, true).await?;
            let n = s.quarantine_delete(&id, None, &actor()).await?;
            if store.json() {
                println!(
                    "{}",
                    serde_json::json!({"id": id, "confirmed": true, "deleted": n})
                );
            } else {
                println!("{id}: confirmed as phishing; {n} recipient(s) deleted");
            }
            Ok(0)
        }
        QuarantineCmd::Delete { store, id, rcpt } => {
            let (_, s) = open(&store).await?;
            let rcpts = (!rcpt.is_empty()).then_some(rcpt);
            let n = s.quarantine_delete(&id, rcpts.as_deref(), &actor()).await?;
            if store.json() {
                println!("{}", serde_json::json!({"id": id, "deleted": n}));
            } else {
                println!("{id}: {n} recipient(s) deleted");
            }
            Ok(0)
        }
    }
}

/// With `[classifier] learn_from_decisions`, a released message teaches
/// the organisation's model "wanted", a confirmed one "phishing" (one
/// bounded step, see `phishgate learn`).
async fn learn_decision(loaded: &Loaded, s: &Store, id: &str, unwanted: bool) -> Result<()> {
    if !loaded.engine.config().classifier.learn_from_decisions {
        return Ok(());
    }
    let raw = s.quarantine_raw(id).await?;
    teach(loaded, s, vec![(id.to_owned(), raw, unwanted)]).await
}

async fn teach(loaded: &Loaded, s: &Store, examples: Vec<(String, Vec<u8>, bool)>) -> Result<()> {
    let (version, lines) =
        phishgate_gateway::model::learn_shared(s, &loaded.engine, &examples, &actor()).await?;
    for l in lines {
        eprintln!("phishgate: classifier: {l} (organisation's model, version {version})");
    }
    Ok(())
}

/// `phishgate learn` without `--model`: teaches the organisation's model
/// in the store; returns the version written and one line per example.
pub async fn learn_examples(
    store: &StoreArgs,
    examples: &[(String, Vec<u8>, bool)],
) -> Result<(i64, Vec<String>)> {
    let (loaded, s) = open(store).await?;
    phishgate_gateway::model::learn_shared(&s, &loaded.engine, examples, &actor()).await
}

/// `phishgate model ...`
#[derive(Subcommand)]
pub enum ModelCmd {
    /// Which model the gateway judges with: the organisation's in the
    /// store (version, checksum, who changed it last) or the configured one.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make FILE (from `phishgate train`) the organisation's model; every
    /// node loads it within seconds.
    Push {
        #[command(flatten)]
        store: StoreArgs,
        /// A model file.
        file: PathBuf,
    },
    /// Write the organisation's model to FILE.
    Pull {
        #[command(flatten)]
        store: StoreArgs,
        /// Destination file.
        #[arg(long, short = 'o')]
        output: PathBuf,
    },
}

/// Runs `phishgate model ...`.
pub async fn model(cmd: ModelCmd) -> Result<u8> {
    use phishgate_gateway::model::MODEL_NAME;
    match cmd {
        ModelCmd::Status { store } => {
            let (loaded, s) = open(&store).await?;
            let stored = s.model_get(MODEL_NAME).await?;
            let configured = loaded.engine.config().classifier.model.clone();
            let fallback = if !loaded.engine.config().classifier.enabled {
                "off ([classifier] enabled = false)".to_string()
            } else if configured.is_empty() {
                "the shipped model".to_string()
            } else {
                configured
            };
            match (&stored, store.json()) {
                (Some(m), true) => println!(
                    "{}",
                    serde_json::json!({"source": "store", "version": m.version, "sha256": m.sha256,
                        "bytes": m.bytes.len(), "updated_ms": m.updated_ms, "updated_by": m.updated_by})
                ),
                (None, true) => println!("{}", serde_json::json!({"source": fallback})),
                (Some(m), false) => println!(
                    "organisation's model in the store: version {}, {} KB, sha256 {}, last changed by {} at {}",
                    m.version,
                    m.bytes.len() / 1024,
                    m.sha256,
                    m.updated_by,
                    phishgate_eval::utc_timestamp(u64::try_from(m.updated_ms / 1000).unwrap_or(0))
                ),
                (None, false) => println!(
                    "no model in the store yet: the gateway judges with {fallback}; \
                     `phishgate learn` or a decision with learn_from_decisions creates it"
                ),
            }
            Ok(0)
        }
        ModelCmd::Push { store, file } => {
            let (_, s) = open(&store).await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            phishgate_core::learn::Model::from_bytes(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let mut expected = s.model_version(MODEL_NAME).await?;
            let version = loop {
                match s.model_put(MODEL_NAME, &bytes, expected, &actor()).await {
                    Ok(v) => break v,
                    Err(e) if e.is_conflict() => expected = s.model_version(MODEL_NAME).await?,
                    Err(e) => return Err(e.into()),
                }
            };
            println!(
                "{}: now the organisation's model, version {version}",
                file.display()
            );
            Ok(0)
        }
        ModelCmd::Pull { store, output } => {
            let (_, s) = open(&store).await?;
            let Some(m) = s.model_get(MODEL_NAME).await? else {
                bail!("no model in the store yet");
            };
            std::fs::write(&output, &m.bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("version {} written to {}", m.version, output.display());
            Ok(0)
        }
    }
}

/// `phishgate report ...`
#[derive(Subcommand)]
pub enum ReportCmd {
    /// Store a user's report: the message (a file, or standard input when
    /// FILE is `-` or absent, e.g. from a Postfix pipe for the report
    /// address). A report that carries the suspicious mail as an attachment
    /// is about that attachment.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Who reported it (the forwarding user's address).
        #[arg(long)]
        reporter: String,
        /// A note from the reporter.
        #[arg(long)]
        note: Option<String>,
        /// The report (`-`: standard input).
        file: Option<PathBuf>,
    },
    /// Reports, newest first.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only `new`, `confirmed` or `dismissed` ones.
        #[arg(long)]
        status: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One report, or its message with --raw.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// Report id.
        id: String,
        /// Print the reported message.
        #[arg(long)]
        raw: bool,
    },
    /// The report is right: phishing or spam (teaches the model with
    /// `[classifier] learn_from_decisions`).
    Confirm {
        #[command(flatten)]
        store: StoreArgs,
        /// Report id.
        id: String,
    },
    /// The message was legitimate (teaches the model "wanted" with
    /// `[classifier] learn_from_decisions`).
    Dismiss {
        #[command(flatten)]
        store: StoreArgs,
        /// Report id.
        id: String,
    },
}

fn print_report(r: &phishgate_store::ReportEntry, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        println!(
            "{}  {:<9}  {}  from {}  \"{}\"  reported by {}{}  phishgate: {} {}",
            r.id,
            r.status.as_str(),
            phishgate_eval::utc_timestamp(u64::try_from(r.received_ms / 1000).unwrap_or(0)),
            r.sender,
            r.subject,
            r.reporter,
            if r.reporters > 1 {
                format!(" (+{} more)", r.reporters - 1)
            } else {
                String::new()
            },
            r.verdict_action.as_deref().unwrap_or("-"),
            r.score.map(|s| format!("{s:.2}")).unwrap_or_default(),
        );
    }
    Ok(())
}

/// sysexits(3): the input is not what it should be (Postfix returns it).
const EX_DATAERR: u8 = 65;
/// sysexits(3): try again later (Postfix keeps the message queued).
const EX_TEMPFAIL: u8 = 75;

/// Runs `phishgate report ...`.
pub async fn report(cmd: ReportCmd) -> Result<u8> {
    use phishgate_store::{ReportQuery, ReportStatus};
    match cmd {
        ReportCmd::Add {
            store,
            reporter,
            note,
            file,
        } => {
            // Exit codes follow sysexits(3), as Postfix's pipe(8) reads
            // them: a report that is not one is returned to its sender
            // (65), anything that may pass (the store, the configuration)
            // keeps it queued for a retry (75), so no report is lost.
            let fail = |code: u8, e: anyhow::Error| {
                eprintln!("phishgate: error: {e:#}");
                Ok(code)
            };
            if !reporter.contains('@') {
                return fail(
                    EX_DATAERR,
                    anyhow::anyhow!(
                        "--reporter must be the reporting user's address (got {reporter:?})"
                    ),
                );
            }
            let raw = match file.as_deref() {
                None => read_stdin(),
                Some(p) if p.as_os_str() == "-" => read_stdin(),
                Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display())),
            };
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => return fail(EX_TEMPFAIL, e),
            };
            if raw.iter().all(u8::is_ascii_whitespace) {
                return fail(
                    EX_DATAERR,
                    anyhow::anyhow!("the report is empty: not an e-mail message"),
                );
            }
            let (loaded, s) = match open(&store).await {
                Ok(x) => x,
                Err(e) => return fail(EX_TEMPFAIL, e.context("the report stays queued")),
            };
            let now = phishgate_gateway::record::now_ms();
            let new =
                phishgate_gateway::report::new_report(&loaded.engine, &reporter, note, &raw, now);
            let entry = match s.report_put(&new).await {
                Ok(entry) => entry,
                Err(e) => {
                    return fail(
                        EX_TEMPFAIL,
                        anyhow::Error::from(e).context("cannot store the report; it stays queued"),
                    )
                }
            };
            print_report(&entry, store.json())?;
            Ok(0)
        }
        ReportCmd::List {
            store,
            status,
            limit,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(x) => Some(ReportStatus::parse(x).with_context(|| {
                    format!("--status: {x:?} is not one of new, confirmed, dismissed")
                })?),
            };
            let (_, s) = open(&store).await?;
            let page = s
                .report_list(&ReportQuery {
                    status,
                    limit,
                    ..ReportQuery::default()
                })
                .await?;
            for r in &page.items {
                print_report(r, store.json())?;
            }
            if page.items.is_empty() && !store.json() {
                println!("no reports");
            }
            Ok(0)
        }
        ReportCmd::Show { store, id, raw } => {
            let (_, s) = open(&store).await?;
            if raw {
                let bytes = s.report_raw(&id).await?;
                std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?;
                return Ok(0);
            }
            let Some(r) = s.report_get(&id).await? else {
                bail!("no report {id}");
            };
            print_report(&r, store.json())?;
            Ok(0)
        }
        ReportCmd::Confirm { store, id } => decide(&store, &id, ReportStatus::Confirmed).await,
        ReportCmd::Dismiss { store, id } => decide(&store, &id, ReportStatus::Dismissed).await,
    }
}

async fn decide(store: &StoreArgs, id: &str, status: phishgate_store::ReportStatus) -> Result<u8> {
    let (loaded, s) = open(store).await?;
    let entry = s.report_decide(id, status, &actor()).await?;
    if loaded.engine.config().classifier.learn_from_decisions {
        let raw = s.report_raw(id).await?;
        let unwanted = status == phishgate_store::ReportStatus::Confirmed;
        teach(&loaded, &s, vec![(id.to_owned(), raw, unwanted)]).await?;
    }
    print_report(&entry, store.json())?;
    Ok(0)
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)
        .context("cannot read standard input")?;
    Ok(buf)
}

/// `phishgate history`.
pub async fn history(a: HistoryArgs) -> Result<u8> {
    let (_, s) = open(&a.store).await?;
    let now = phishgate_gateway::record::now_ms();
    let q = HistoryQuery {
        sender: a.from,
        recipient: a.to,
        subject_words: a.subject,
        domain: a.domain,
        action: a.action,
        symbol: a.symbol,
        since: a
            .since
            .as_deref()
            .map(parse_age)
            .transpose()?
            .map(|x| now - x),
        until: a
            .until
            .as_deref()
            .map(parse_age)
            .transpose()?
            .map(|x| now - x),
        limit: a.limit,
        cursor: a.cursor,
    };
    let page = s.history(&q).await?;
    for r in &page.items {
        if a.store.json() {
            println!("{}", serde_json::to_string(r)?);
        } else {
            let syms: Vec<&str> = r
                .symbols
                .iter()
                .filter(|s| s.score != 0.0)
                .map(|s| s.name.as_str())
                .collect();
            println!(
                "{}  {:<10} {:>6.2}  {} -> {}  {}\n    {}",
                time(r.received_at),
                r.action,
                r.score,
                r.mail_from,
                r.rcpts.join(","),
                r.subject,
                syms.join(" ")
            );
        }
    }
    if let Some(c) = &page.next_cursor {
        eprintln!("more: --cursor {c}");
    }
    Ok(0)
}

/// `phishgate audit`: who released, deleted or expired what, newest first.
pub async fn audit(store: StoreArgs, limit: u32, since: Option<String>) -> Result<u8> {
    let (_, s) = open(&store).await?;
    let now = phishgate_gateway::record::now_ms();
    let since = since
        .as_deref()
        .map(parse_age)
        .transpose()?
        .map(|x| now - x);
    for e in s.audit_list(limit, since).await? {
        if store.json() {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            println!(
                "{}  {:<10} {}  by {} from {}  {}",
                time(e.at),
                e.action,
                e.target,
                e.who,
                e.from,
                e.detail
            );
        }
    }
    Ok(0)
}

/// `phishgate backup FILE`.
pub async fn backup(store: StoreArgs, file: PathBuf) -> Result<u8> {
    let (_, s) = open(&store).await?;
    s.backup(&file).await?;
    println!("backup written to {}", file.display());
    Ok(0)
}

/// `phishgate purge --older-than AGE`.
pub async fn purge(store: StoreArgs, older_than: String) -> Result<u8> {
    let (_, s) = open(&store).await?;
    let cutoff = phishgate_gateway::record::now_ms() - parse_age(&older_than)?;
    let rows = s.purge_history(cutoff).await?;
    let held = s.quarantine_expire(cutoff, &actor()).await?;
    if store.json() {
        println!(
            "{}",
            serde_json::json!({"history_rows": rows, "quarantine_expired": held})
        );
    } else {
        println!("purged {rows} history row(s); expired {held} held message(s)");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times() {
        assert_eq!(parse_age("90d").unwrap(), 90 * 86_400_000);
        assert_eq!(parse_age("12h").unwrap(), 12 * 3_600_000);
        assert!(parse_age("soon").is_err());
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
        assert_eq!(time(1_795_892_537_000), "2026-11-28 19:02:17Z");
    }
}
