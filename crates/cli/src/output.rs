//! Printing results: readable (optionally coloured) text, or JSON Lines.
//!
//! The JSON schema is the contract of DESIGN.md: one object per message per
//! line with `source`, `score`, `action` and `symbols` (each with `name`,
//! `score`, `description`, `options`), plus `from`, `subject`,
//! `message_id`, `size` and the thresholds in force. A message that could not
//! be scanned is one object with `source` and `error`.

use std::io::Write;
use std::time::Duration;

use clap::ValueEnum;
use phishgate_core::{Action, Engine, Lang, ScanResult};
use serde::Serialize;

/// Output format.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text with a symbol table.
    Text,
    /// One JSON object per message per line.
    Json,
}

/// What happened to one input.
pub enum Outcome {
    /// Scanned.
    Scanned {
        /// Where the message came from.
        source: String,
        /// The verdict.
        result: Box<ScanResult>,
    },
    /// Found while walking a folder and not mail (a LICENSE, a notes file):
    /// noted on stderr, not an error.
    Skipped {
        /// Where it came from.
        source: String,
        /// Why it was skipped.
        message: String,
    },
    /// Not scanned.
    Failed {
        /// Where it came from.
        source: String,
        /// Why not.
        message: String,
    },
}

#[derive(Serialize)]
struct JsonSymbol<'a> {
    name: &'a str,
    score: f64,
    group: &'a str,
    description: String,
    options: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled_by: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    source: &'a str,
    score: f64,
    action: Action,
    symbols: Vec<JsonSymbol<'a>>,
    from: Option<&'a str>,
    subject: &'a str,
    message_id: Option<&'a str>,
    size: usize,
    thresholds: phishgate_core::ThresholdsOut,
    /// To and Cc addresses.
    to: &'a [String],
    /// Registrable domains of the links.
    link_domains: &'a [String],
    /// Attachments with their SHA-256.
    attachments: &'a [phishgate_core::AttachmentSummary],
    /// Campaign fingerprint.
    fingerprint: &'a str,
}

/// Prints outcomes.
pub struct Printer<'a> {
    /// For descriptions.
    pub engine: &'a Engine,
    /// Text or JSON.
    pub format: Format,
    /// Language of descriptions.
    pub lang: Lang,
    /// Show zero-score symbols in text output.
    pub verbose: bool,
    /// ANSI colours.
    pub color: bool,
}

impl Printer<'_> {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Prints one outcome.
    pub fn print(&self, out: &mut dyn Write, o: &Outcome) -> std::io::Result<()> {
        match (self.format, o) {
            (Format::Json, Outcome::Scanned { source, result }) => {
                let j = JsonResult {
                    source,
                    score: result.score,
                    action: result.action,
                    symbols: result
                        .symbols
                        .iter()
                        .map(|s| JsonSymbol {
                            name: &s.name,
                            score: s.score,
                            group: &s.group,
                            description: self.engine.describe(&s.name, self.lang),
                            options: &s.options,
                            cancelled_by: s.cancelled_by.as_deref(),
                        })
                        .collect(),
                    from: result.from.as_deref(),
                    subject: &result.subject,
                    message_id: result.message_id.as_deref(),
                    size: result.size,
                    thresholds: result.thresholds,
                    to: &result.to,
                    link_domains: &result.link_domains,
                    attachments: &result.attachments,
                    fingerprint: &result.fingerprint,
                };
                let line = serde_json::to_string(&j).map_err(std::io::Error::other)?;
                writeln!(out, "{line}")
            }
            (Format::Json, Outcome::Failed { source, message }) => {
                let line = serde_json::to_string(&serde_json::json!({
                    "source": source,
                    "error": message,
                }))
                .map_err(std::io::Error::other)?;
                writeln!(out, "{line}")
            }
            (Format::Text, Outcome::Failed { source, message }) => {
                writeln!(
                    out,
                    "{}  {}",
                    source,
                    self.paint("1;35", &format!("ERROR  {message}"))
                )
            }
            (Format::Text, Outcome::Scanned { source, result }) => self.text(out, source, result),
            (_, Outcome::Skipped { source, message }) => {
                let word = if self.lang == Lang::Vi {
                    "bỏ qua"
                } else {
                    "skipped"
                };
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "phishgate: {word} {source}: {message}"
                );
                Ok(())
            }
        }
    }

    fn text(&self, out: &mut dyn Write, source: &str, r: &ScanResult) -> std::io::Result<()> {
        let (label, code) = match (r.action, self.lang) {
            (Action::Accept, Lang::Vi) => ("CHẤP NHẬN", "32"),
            (Action::Warn, Lang::Vi) => ("CẢNH BÁO", "33"),
            (Action::Quarantine, Lang::Vi) => ("CÁCH LY", "1;31"),
            (Action::Reject, Lang::Vi) => ("TỪ CHỐI", "1;31"),
            (Action::Accept, Lang::En) => ("ACCEPT", "32"),
            (Action::Warn, Lang::En) => ("WARN", "33"),
            (Action::Quarantine, Lang::En) => ("QUARANTINE", "1;31"),
            (Action::Reject, Lang::En) => ("REJECT", "1;31"),
        };
        let score_word = if self.lang == Lang::Vi {
            "điểm"
        } else {
            "score"
        };
        writeln!(
            out,
            "{}  {}  {} {:.2}",
            self.paint("1", source),
            self.paint(code, &format!("{label} ({})", r.action.as_str())),
            score_word,
            r.score
        )?;
        let from_word = if self.lang == Lang::Vi {
            "Từ"
        } else {
            "From"
        };
        let subj_word = if self.lang == Lang::Vi {
            "Tiêu đề"
        } else {
            "Subject"
        };
        writeln!(
            out,
            "    {from_word}: {}   {subj_word}: {}",
            r.from.as_deref().unwrap_or("-"),
            r.subject.chars().take(100).collect::<String>()
        )?;
        for s in &r.symbols {
            if s.score == 0.0 && !self.verbose {
                continue;
            }
            let score = format!("{:+6.2}", s.score);
            let score = if s.score > 0.0 {
                self.paint("31", &score)
            } else if s.score < 0.0 {
                self.paint("32", &score)
            } else {
                self.paint("2", &score)
            };
            let evidence = if s.options.is_empty() {
                String::new()
            } else {
                format!("  [{}]", s.options.join(", "))
            };
            let cancelled = match &s.cancelled_by {
                Some(c) => format!(
                    "  ({} {c})",
                    if self.lang == Lang::Vi {
                        "bị hủy bởi"
                    } else {
                        "cancelled by"
                    }
                ),
                None => String::new(),
            };
            writeln!(
                out,
                "    {score}  {:<28} {}{}{}",
                s.name,
                self.engine.describe(&s.name, self.lang),
                self.paint("2", &evidence),
                cancelled
            )?;
        }
        writeln!(out)
    }

    /// The closing line on stderr (text) or nothing (JSON keeps stdout clean).
    pub fn summary(
        &self,
        counts: &[usize; 4],
        errors: usize,
        skipped: usize,
        took: Duration,
    ) -> std::io::Result<()> {
        let total: usize = counts.iter().sum();
        let [a, w, q, r] = *counts;
        let line = if self.lang == Lang::Vi {
            format!(
                "{total} thư: {} chấp nhận, {} cảnh báo, {} cách ly, {} từ chối, {errors} lỗi, {skipped} bỏ qua ({:.2} s)",
                a, w, q, r,
                took.as_secs_f64()
            )
        } else {
            format!(
                "{total} messages: {} accept, {} warn, {} quarantine, {} reject, {errors} errors, {skipped} skipped ({:.2} s)",
                a, w, q, r,
                took.as_secs_f64()
            )
        };
        let mut err = std::io::stderr().lock();
        writeln!(err, "{}", self.paint("1", &line))
    }
}
