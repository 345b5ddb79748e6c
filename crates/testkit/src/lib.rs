//! Test support (skeleton; filled in by issue #3).
