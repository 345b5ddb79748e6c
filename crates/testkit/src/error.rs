//! The one error type of the crate.

use std::fmt;
use std::io;
use std::process::Output;

/// Everything that can go wrong while running a throw-away Postfix.
///
/// The `Display` text is meant to be read in a failing test's output: it says
/// what failed and carries the command's output, or the queue listing and the
/// log tail for timeouts. `Debug` prints the same text, so that
/// `.unwrap()` in a test shows a readable message.
pub enum Error {
    /// The machine cannot run the instance at all: not root, or Postfix or
    /// swaks are not installed. Tests must fail with this message, not skip.
    Prerequisite(String),
    /// A file-system or socket operation failed.
    Io {
        /// What was being done (with the path or address).
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// An external command (`postfix`, `postconf`, `postqueue`, …) failed.
    Command {
        /// The command line, for copy and paste.
        command: String,
        /// Its exit status (`None` if killed by a signal).
        status: Option<i32>,
        /// Its standard output.
        stdout: String,
        /// Its standard error.
        stderr: String,
    },
    /// The builder's input cannot be turned into a configuration.
    Config(String),
    /// A bounded wait ran out.
    Timeout {
        /// What was awaited.
        what: String,
        /// The state at the time: queue listing, log tail, Maildir contents.
        details: String,
    },
    /// A peer spoke something that is not SMTP, or output could not be parsed.
    Protocol(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn command(command: String, output: &Output) -> Self {
        Error::Command {
            command,
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Prerequisite(msg) => write!(f, "test prerequisite missing: {msg}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Command {
                command,
                status,
                stdout,
                stderr,
            } => {
                match status {
                    Some(code) => write!(f, "`{command}` failed with exit status {code}")?,
                    None => write!(f, "`{command}` was killed by a signal")?,
                }
                if !stdout.trim().is_empty() {
                    write!(f, "\n--- stdout ---\n{}", stdout.trim_end())?;
                }
                if !stderr.trim().is_empty() {
                    write!(f, "\n--- stderr ---\n{}", stderr.trim_end())?;
                }
                Ok(())
            }
            Error::Config(msg) => write!(f, "invalid test Postfix configuration: {msg}"),
            Error::Timeout { what, details } => {
                write!(f, "timed out waiting for {what}\n{}", details.trim_end())
            }
            Error::Protocol(msg) => write!(f, "protocol error: {msg}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
