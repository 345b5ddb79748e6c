//! Sans-I/O SMTP codec (skeleton; filled in by issue #3).
