//! What checks emit: named symbols with a weight and evidence.
//!
//! A check never decides points. It says "this symbol, this strongly (0..1),
//! because of this evidence"; [`crate::scoring`] turns that into points from the
//! configuration. Evidence strings are short (`shown->actual`, a phrase, a file
//! name) and bounded in number and length so hostile input cannot bloat a
//! result.

use std::borrow::Cow;

/// Most evidence strings kept per symbol.
pub const MAX_OPTIONS: usize = 8;
/// Longest evidence string kept, in characters.
pub const MAX_OPTION_CHARS: usize = 120;

/// One symbol emitted by a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Symbol name, as configured under `[symbols]`. Static for the checks'
    /// own symbols; owned for names the configuration maps to (DNS block
    /// list return codes).
    pub name: Cow<'static, str>,
    /// Strength in `0..=1`.
    pub weight: f64,
    /// Evidence.
    pub options: Vec<String>,
}

impl Finding {
    /// A finding with its evidence (bounded).
    pub fn new<S: Into<String>>(
        name: impl Into<Cow<'static, str>>,
        weight: f64,
        options: Vec<S>,
    ) -> Finding {
        let mut f = Finding {
            name: name.into(),
            weight: weight.clamp(0.0, 1.0),
            options: Vec::new(),
        };
        for o in options {
            f.push_option(o.into());
        }
        f
    }

    fn push_option(&mut self, o: String) {
        if self.options.len() >= MAX_OPTIONS || self.options.contains(&o) {
            return;
        }
        let o = if o.chars().count() > MAX_OPTION_CHARS {
            let mut s: String = o.chars().take(MAX_OPTION_CHARS - 1).collect();
            s.push('…');
            s
        } else {
            o
        };
        if !self.options.contains(&o) {
            self.options.push(o);
        }
    }
}

/// The findings of one message, in the order the pipeline produced them.
/// Emitting a symbol twice keeps one finding with the higher weight and the
/// union of the evidence.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    items: Vec<Finding>,
}

impl Findings {
    /// Emits `name` with `weight` and evidence.
    pub fn add<S: Into<String>>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        weight: f64,
        options: Vec<S>,
    ) {
        let new = Finding::new(name, weight, options);
        if let Some(old) = self.items.iter_mut().find(|f| f.name == new.name) {
            old.weight = old.weight.max(new.weight);
            for o in new.options {
                old.push_option(o);
            }
        } else {
            self.items.push(new);
        }
    }

    /// Emits `name` at full weight with one piece of evidence.
    pub fn hit(&mut self, name: impl Into<Cow<'static, str>>, option: impl Into<String>) {
        self.add(name, 1.0, vec![option.into()]);
    }

    /// Whether `name` was emitted.
    pub fn has(&self, name: &str) -> bool {
        self.items.iter().any(|f| f.name == name)
    }

    /// All findings.
    pub fn as_slice(&self) -> &[Finding] {
        &self.items
    }

    /// Consumes the collector.
    pub fn into_vec(self) -> Vec<Finding> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_bounds() {
        let mut f = Findings::default();
        f.add("A", 0.5, vec!["x"]);
        f.add("A", 0.9, vec!["x", "y"]);
        for i in 0..50 {
            f.hit("B", format!("{i}"));
        }
        f.hit("C", "z".repeat(1000));
        assert_eq!(f.as_slice().len(), 3);
        let a = &f.as_slice()[0];
        assert_eq!(a.weight, 0.9);
        assert_eq!(a.options, vec!["x", "y"]);
        assert_eq!(f.as_slice()[1].options.len(), MAX_OPTIONS);
        assert_eq!(f.as_slice()[2].options[0].chars().count(), MAX_OPTION_CHARS);
        assert_eq!(Finding::new("D", 7.0, Vec::<String>::new()).weight, 1.0);
    }
}
