//! Errors for API misuse. Protocol problems are never errors: the server
//! answers them with a reply, the client reports them as an
//! [`crate::Outcome`].

/// An API call made in a state where it has no meaning, or invalid input
/// handed to a helper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`crate::Server::finish_data`] without a message awaiting its result.
    #[error("no message is awaiting a result")]
    NoPendingMessage,
    /// A reply code outside 200..=599, a 3xx where a final reply is needed,
    /// or an enhanced code whose class differs from the reply code's.
    #[error("invalid reply: {0}")]
    InvalidReply(&'static str),
    /// [`crate::Client::send`] while a transaction is active or queued.
    #[error("a transaction is already in progress on this connection")]
    Busy,
    /// [`crate::Client::send`] with a transaction without recipients.
    #[error("transaction has no recipients")]
    NoRecipients,
    /// The session is closed; nothing more can be sent.
    #[error("session closed")]
    Closed,
    /// Malformed xtext (`+` not followed by two hex digits).
    #[error("malformed xtext")]
    Xtext,
    /// Malformed address or path.
    #[error("address syntax: {0}")]
    Address(&'static str),
}
