//! Sans-I/O milter codec (skeleton; filled in by issue #3).
