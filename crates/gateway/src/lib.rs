//! Gateway (skeleton; filled in by issue #3).
