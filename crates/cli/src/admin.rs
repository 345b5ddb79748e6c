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
                learn_decision(&store, &s, &id, false).await?;
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
            let (_, s) = open(&store).await?;
            learn_decision(&store, &s, &id, true).await?;
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
async fn learn_decision(store: &StoreArgs, s: &Store, id: &str, unwanted: bool) -> Result<()> {
    let config = crate::load_config(store.config.as_ref())?;
    if !config.classifier.learn_from_decisions {
        return Ok(());
    }
    let raw = s.quarantine_raw(id).await?;
    let examples = vec![(id.to_owned(), raw, unwanted)];
    let (out, lines) = crate::learn::learn_into(&config, store.data_dir.clone(), None, &examples)?;
    for l in lines {
        eprintln!("phishgate: classifier: {l} ({})", out.display());
    }
    Ok(())
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
