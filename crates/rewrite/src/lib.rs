//! Message rewriting (skeleton; filled in by issue #3).
