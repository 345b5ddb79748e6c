//! All score arithmetic, in one place (Rspamd's model).
//!
//! Checks emit [`Finding`]s: a symbol name, a weight in `0..=1` and evidence.
//! Here a finding becomes points: `weight × configured score`. Composites are
//! evaluated in configuration order over the names present (a composite may
//! use an earlier composite) and may cancel other symbols: a cancelled symbol
//! stays in the result with its evidence and a score of 0, so the explanation
//! still shows it. Then every group's positive total is capped at the group's
//! `max_score`, scaling its members down proportionally so the scores shown
//! always add up to the total. Thresholds turn the total into an [`Action`].

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::symbols::Finding;

/// What to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deliver unchanged (result headers only).
    Accept,
    /// Deliver with a visible warning.
    Warn,
    /// Hold for the IT centre.
    Quarantine,
    /// Refuse in the SMTP session.
    Reject,
}

impl Action {
    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Warn => "warn",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }
}

/// One symbol of a verdict, with its points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredSymbol {
    /// Symbol name (`UPPER_SNAKE`).
    pub name: String,
    /// Points it contributed (after composites and group caps).
    pub score: f64,
    /// Weight the check reported (0..1).
    pub weight: f64,
    /// Group of the symbol.
    pub group: String,
    /// Evidence strings.
    pub options: Vec<String>,
    /// Name of the composite that cancelled this symbol, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cancelled_by: Option<String>,
}

/// The outcome of scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Total score.
    pub score: f64,
    /// Action chosen by the thresholds.
    pub action: Action,
    /// Every symbol, strongest first.
    pub symbols: Vec<ScoredSymbol>,
}

/// Turns findings into a verdict. Pure; called once per message.
pub fn score(findings: &[Finding], config: &Config, composites: &[CompiledComposite]) -> Verdict {
    let mut symbols: Vec<ScoredSymbol> = findings
        .iter()
        .map(|f| {
            let (points, group) = match config.symbols.get(f.name.as_ref()) {
                Some(s) => (s.score * f.weight.clamp(0.0, 1.0), s.group.clone()),
                // A check emitting a name missing from the configuration is a
                // bug caught by a test; in production it is shown with 0 points.
                None => (0.0, "unknown".to_string()),
            };
            ScoredSymbol {
                name: f.name.to_string(),
                score: points,
                weight: f.weight,
                group,
                options: f.options.clone(),
                cancelled_by: None,
            }
        })
        .collect();

    // Composites, in order.
    let mut present: BTreeSet<String> = symbols.iter().map(|s| s.name.clone()).collect();
    for c in composites {
        if !c.expr.eval(&present) {
            continue;
        }
        let mut options = Vec::new();
        for s in symbols.iter_mut() {
            if c.remove.contains(&s.name) && s.cancelled_by.is_none() {
                s.score = 0.0;
                s.cancelled_by = Some(c.name.clone());
            } else if let Some((_, factor)) = c.scale.iter().find(|(n, _)| *n == s.name) {
                if s.cancelled_by.is_none() && s.score != 0.0 {
                    s.score *= factor;
                    options.push(format!("{} x{factor}", s.name));
                }
            }
        }
        present.insert(c.name.clone());
        symbols.push(ScoredSymbol {
            name: c.name.clone(),
            score: c.score,
            weight: 1.0,
            group: c.group.clone(),
            options,
            cancelled_by: None,
        });
    }

    // Group caps on the positive side.
    let mut positive: HashMap<&str, f64> = HashMap::new();
    for s in &symbols {
        if s.score > 0.0 {
            *positive.entry(s.group.as_str()).or_default() += s.score;
        }
    }
    let factors: HashMap<String, f64> = positive
        .into_iter()
        .filter_map(|(g, total)| {
            let cap = config.groups.get(g)?.max_score?;
            (total > cap && total > 0.0).then(|| (g.to_string(), cap.max(0.0) / total))
        })
        .collect();
    for s in symbols.iter_mut() {
        if s.score > 0.0 {
            if let Some(f) = factors.get(&s.group) {
                s.score *= f;
            }
        }
        s.score = round2(s.score);
    }

    let total = round2(symbols.iter().map(|s| s.score).sum());
    let t = &config.actions;
    let action = if total >= t.reject {
        Action::Reject
    } else if total >= t.quarantine {
        Action::Quarantine
    } else if total >= t.warn {
        Action::Warn
    } else {
        Action::Accept
    };
    symbols.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.name.cmp(&b.name))
    });
    Verdict {
        score: total,
        action,
        symbols,
    }
}

/// Two decimals: stable output for golden files and humans.
fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// A composite with its expression parsed once.
#[derive(Debug, Clone)]
pub struct CompiledComposite {
    /// Name of the symbol it adds.
    pub name: String,
    /// Points it adds.
    pub score: f64,
    /// Its group.
    pub group: String,
    /// Symbols it cancels.
    pub remove: Vec<String>,
    /// Symbols it scales down, with their factors.
    pub scale: Vec<(String, f64)>,
    /// Its condition.
    pub expr: Expr,
}

/// Compiles the configured composites (the configuration was validated, so
/// parse errors are impossible here; an unparsable one is skipped).
pub fn compile_composites(config: &Config) -> Vec<CompiledComposite> {
    config
        .composites
        .iter()
        .filter_map(|c| {
            Some(CompiledComposite {
                name: c.name.clone(),
                score: c.score,
                group: c.group.clone(),
                remove: c.remove.clone(),
                scale: c.scale.iter().map(|(n, f)| (n.clone(), *f)).collect(),
                expr: Expr::parse(&c.expression).ok()?,
            })
        })
        .collect()
}

/// A boolean expression over symbol names: `!` binds tighter than `&`, which
/// binds tighter than `|`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A symbol is present.
    Sym(String),
    /// Negation.
    Not(Box<Expr>),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
}

/// Deepest nesting of parentheses and `!` accepted in an expression.
const MAX_EXPR_DEPTH: usize = 32;

impl Expr {
    /// Parses an expression; the error says where it went wrong.
    pub fn parse(s: &str) -> Result<Expr, String> {
        let tokens = tokenize(s)?;
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or(0)?;
        if p.pos != p.tokens.len() {
            return Err(format!("unexpected token at position {}", p.pos + 1));
        }
        Ok(e)
    }

    /// Evaluates over the set of present symbol names.
    pub fn eval(&self, present: &BTreeSet<String>) -> bool {
        match self {
            Expr::Sym(n) => present.contains(n),
            Expr::Not(e) => !e.eval(present),
            Expr::And(a, b) => a.eval(present) && b.eval(present),
            Expr::Or(a, b) => a.eval(present) || b.eval(present),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Id(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '&' => out.push(Tok::And),
            '|' => out.push(Tok::Or),
            '!' => out.push(Tok::Not),
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut id = String::from(c);
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        id.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Id(id));
            }
            other => return Err(format!("unexpected character '{other}' at byte {i}")),
        }
    }
    if out.is_empty() {
        return Err("empty expression".into());
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }
    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.and(depth)?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.unary(depth)?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_EXPR_DEPTH {
            return Err("expression nested too deep".into());
        }
        match self.tokens.get(self.pos).cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or(depth + 1)?;
                if self.peek() != Some(&Tok::Close) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Id(id)) => {
                self.pos += 1;
                Ok(Expr::Sym(id))
            }
            _ => Err(format!(
                "expected a symbol name at position {}",
                self.pos + 1
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn expressions() {
        let e = Expr::parse("(A | B) & !C").expect("parse");
        assert!(e.eval(&set(&["A"])));
        assert!(!e.eval(&set(&["A", "C"])));
        assert!(!e.eval(&set(&["C"])));
        assert!(Expr::parse("A &").is_err());
        assert!(Expr::parse("(A").is_err());
        assert!(Expr::parse("A $ B").is_err());
        assert!(Expr::parse(&"(".repeat(100)).is_err());
    }

    #[test]
    fn caps_scale_members_and_thresholds_pick_action() {
        let config = Config::defaults();
        let comps = compile_composites(&config);
        let f = |n: &'static str| Finding::new(n, 1.0, Vec::<String>::new());
        // lure group cap is 9: 3 + 3 + 3 + 3 = 12 -> 9.
        let v = score(
            &[
                f("LURE_VERIFY_ACCOUNT"),
                f("LURE_MAILBOX_FULL"),
                f("LURE_PASSWORD_EXPIRY"),
                f("LURE_ACCOUNT_THREAT"),
            ],
            &config,
            &comps,
        );
        let lure: f64 = v
            .symbols
            .iter()
            .filter(|s| s.group == "lure")
            .map(|s| s.score)
            .sum();
        assert!((lure - 9.0).abs() < 0.05, "{lure}");
        assert_eq!(v.action, Action::Quarantine);
        let empty = score(&[], &config, &comps);
        assert_eq!(empty.action, Action::Accept);
        assert_eq!(empty.score, 0.0);
    }

    #[test]
    fn composite_cancels_but_keeps_evidence() {
        let config = Config::defaults();
        let comps = compile_composites(&config);
        let v = score(
            &[
                Finding::new("FROM_OWN_DOMAIN", 1.0, vec!["laocai.gov.vn".to_string()]),
                Finding::new("LURE_PASSWORD_EXPIRY", 1.0, vec!["mat khau se het han"]),
            ],
            &config,
            &comps,
        );
        let lure = v
            .symbols
            .iter()
            .find(|s| s.name == "LURE_PASSWORD_EXPIRY")
            .expect("kept");
        assert_eq!(lure.score, 0.0);
        assert_eq!(lure.cancelled_by.as_deref(), Some("INTERNAL_NOTICE"));
        assert_eq!(v.action, Action::Accept);
    }

    #[test]
    fn composite_scales_the_classifier_for_authenticated_self_linked_mail() {
        let config = Config::defaults();
        let comps = compile_composites(&config);
        let ml = |extra: &[&'static str]| {
            let mut findings = vec![
                Finding::new("ML_UNWANTED", 1.0, vec!["p=0.95".to_string()]),
                Finding::new("DMARC_PASS", 1.0, vec!["shop.example".to_string()]),
            ];
            findings.extend(
                extra
                    .iter()
                    .map(|n| Finding::new(*n, 1.0, Vec::<String>::new())),
            );
            score(&findings, &config, &comps)
        };
        let v = ml(&[]);
        let sym = |v: &Verdict, n: &str| v.symbols.iter().find(|s| s.name == n).cloned();
        assert_eq!(sym(&v, "ML_UNWANTED").expect("kept").score, 4.0);
        let c = sym(&v, "ML_UNWANTED_AUTHENTICATED_SENDER").expect("fires");
        assert_eq!(c.options, vec!["ML_UNWANTED x0.5".to_string()]);
        assert_eq!(v.action, Action::Accept);
        // A link to somebody else's site, or a borrowed name: full weight.
        for extra in ["THIRD_PARTY_LINK", "DISPLAY_NAME_ORG", "FREEMAIL_FROM"] {
            let v = ml(&[extra]);
            assert_eq!(sym(&v, "ML_UNWANTED").expect("kept").score, 8.0, "{extra}");
            assert!(sym(&v, "ML_UNWANTED_AUTHENTICATED_SENDER").is_none());
        }
    }
}
