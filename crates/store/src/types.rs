//! The records the store keeps and the queries it answers.
//!
//! Everything here is plain data with `serde` so the CLI can print it as JSON.
//! Times are `i64` unix milliseconds throughout.

use serde::{Deserialize, Serialize};

/// Which way a message travelled through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From outside the organisation to inside.
    Inbound,
    /// From inside the organisation to outside.
    Outbound,
    /// Between two addresses of the organisation.
    Internal,
}

impl Direction {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            "internal" => Some(Direction::Internal),
            _ => None,
        }
    }
}

/// One symbol of a verdict, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolRecord {
    /// `UPPER_SNAKE` symbol name, e.g. `LINK_TEXT_MISMATCH`.
    pub name: String,
    /// The weight it contributed.
    pub score: f64,
    /// Short evidence strings, e.g. `mail.laocai.gov.vn->185.234.72.19`.
    pub options: Vec<String>,
}

/// One attachment of a scanned message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    /// File name as declared by the message.
    pub name: String,
    /// Declared content type.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the decoded content.
    pub sha256: String,
}

/// One scanned message, as kept in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Caller-generated unique id. Recording the same id twice is a no-op,
    /// so a caller may retry after an outage without duplicating rows.
    pub id: String,
    /// When the message was received (unix ms).
    pub received_at: i64,
    /// Name of the gateway node that scanned it.
    pub node: String,
    /// Direction of travel.
    pub direction: Direction,
    /// How it reached the gateway: `milter`, `smtp` or `http`.
    pub interface: String,
    /// The MTA's queue id, when known.
    pub queue_id: Option<String>,
    /// Envelope sender (may be empty for bounces).
    pub mail_from: String,
    /// Envelope recipients.
    pub rcpts: Vec<String>,
    /// The `From:` header as received.
    pub from_header: Option<String>,
    /// The `To:` addresses.
    pub to_header: Vec<String>,
    /// The decoded `Subject:`.
    pub subject: String,
    /// Message size in bytes.
    pub size: u64,
    /// Final score.
    pub score: f64,
    /// Action taken: `accept`, `warn`, `quarantine`, `reject`...
    pub action: String,
    /// Symbols with evidence.
    pub symbols: Vec<SymbolRecord>,
    /// Registrable domains of the links in the message.
    pub link_domains: Vec<String>,
    /// Attachments with hashes.
    pub attachments: Vec<AttachmentRecord>,
    /// Content fingerprint for campaign grouping.
    pub fingerprint: String,
    /// The `Message-ID:` header.
    pub message_id: Option<String>,
    /// The quarantine entry holding this message, if it was quarantined.
    pub quarantine_id: Option<String>,
}

/// Default page size of the list queries.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size of the list queries; larger requests are clamped.
pub const MAX_LIMIT: u32 = 1000;

/// Filters for [`crate::Store::history`]. All given filters must match.
///
/// Address and domain filters are case-insensitive and exact (no substring
/// or subdomain match: that is what keeps them on an index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    /// Envelope sender address, or `@domain` for every sender of that domain.
    pub sender: Option<String>,
    /// One envelope recipient address.
    pub recipient: Option<String>,
    /// Words that must all occur in the subject, matched case- and
    /// diacritic-insensitively ("xác minh" finds "Xac minh tai khoan").
    pub subject_words: Option<String>,
    /// A domain that occurs as a link domain or as the sender's domain.
    pub domain: Option<String>,
    /// Exact action.
    pub action: Option<String>,
    /// Exact symbol name.
    pub symbol: Option<String>,
    /// Received at or after (unix ms, inclusive).
    pub since: Option<i64>,
    /// Received before (unix ms, exclusive).
    pub until: Option<i64>,
    /// Page size: 0 means [`DEFAULT_LIMIT`], larger than [`MAX_LIMIT`] is clamped.
    pub limit: u32,
    /// `next_cursor` of the previous page, to continue after it.
    pub cursor: Option<String>,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            sender: None,
            recipient: None,
            subject_words: None,
            domain: None,
            action: None,
            symbol: None,
            since: None,
            until: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// State of one recipient of a quarantined message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RcptState {
    /// Held, waiting for a decision.
    Held,
    /// Claimed by a node that is re-injecting it right now.
    Releasing,
    /// Delivered to this recipient.
    Released,
    /// Deleted by an operator.
    Deleted,
    /// Held past the retention time.
    Expired,
}

impl RcptState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RcptState::Held => "held",
            RcptState::Releasing => "releasing",
            RcptState::Released => "released",
            RcptState::Deleted => "deleted",
            RcptState::Expired => "expired",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<RcptState> {
        match s {
            "held" => Some(RcptState::Held),
            "releasing" => Some(RcptState::Releasing),
            "released" => Some(RcptState::Released),
            "deleted" => Some(RcptState::Deleted),
            "expired" => Some(RcptState::Expired),
            _ => None,
        }
    }
}

/// A message to put into quarantine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewQuarantined {
    /// Caller-generated unique id.
    pub id: String,
    /// When the message was received (unix ms).
    pub received_at: i64,
    /// The history record of the same message.
    pub history_id: Option<String>,
    /// Envelope sender.
    pub mail_from: String,
    /// ESMTP parameters of `MAIL FROM` (`SIZE=...`, `BODY=8BITMIME`...).
    pub mail_params: Vec<String>,
    /// Envelope recipients with their ESMTP parameters (`NOTIFY=...`, `ORCPT=...`).
    pub rcpts: Vec<(String, Vec<String>)>,
    /// The raw message exactly as received.
    pub raw: Vec<u8>,
    /// Why it was held (short text, e.g. the top symbols).
    pub reason: String,
    /// Final score.
    pub score: f64,
    /// Action that led here (normally `quarantine`).
    pub action: String,
    /// Decoded subject, for the list view.
    pub subject: String,
    /// `From:` header, for the list view.
    pub from_header: Option<String>,
}

/// One recipient of a quarantined message and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRcpt {
    /// Recipient address as given by the MTA.
    pub address: String,
    /// Its ESMTP parameters.
    pub params: Vec<String>,
    /// Current state.
    pub state: RcptState,
    /// When the state last changed (unix ms).
    pub changed_at: i64,
    /// Who changed it last (`None` while it was never touched after holding).
    pub changed_by: Option<String>,
}

/// A quarantined message without its raw bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// Unique id.
    pub id: String,
    /// When the message was received (unix ms).
    pub received_at: i64,
    /// The history record of the same message.
    pub history_id: Option<String>,
    /// Envelope sender.
    pub mail_from: String,
    /// ESMTP parameters of `MAIL FROM`.
    pub mail_params: Vec<String>,
    /// Why it was held.
    pub reason: String,
    /// Final score.
    pub score: f64,
    /// Action that led here.
    pub action: String,
    /// Decoded subject.
    pub subject: String,
    /// `From:` header.
    pub from_header: Option<String>,
    /// Size of the raw message in bytes (uncompressed).
    pub size: u64,
    /// Hex SHA-256 of the raw message.
    pub sha256: String,
    /// Whether the raw bytes are still stored (they are dropped on expiry).
    pub raw_available: bool,
    /// The recipients, in envelope order.
    pub rcpts: Vec<QuarantineRcpt>,
}

/// Filters for [`crate::Store::quarantine_list`]. All given filters must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuarantineQuery {
    /// At least one recipient is in this state.
    pub state: Option<RcptState>,
    /// One of the recipients (case-insensitive).
    pub recipient: Option<String>,
    /// Envelope sender address, or `@domain`.
    pub sender: Option<String>,
    /// Received at or after (unix ms, inclusive).
    pub since: Option<i64>,
    /// Received before (unix ms, exclusive).
    pub until: Option<i64>,
    /// Page size: 0 means [`DEFAULT_LIMIT`], larger than [`MAX_LIMIT`] is clamped.
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Default for QuarantineQuery {
    fn default() -> Self {
        QuarantineQuery {
            state: None,
            recipient: None,
            sender: None,
            since: None,
            until: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// The result of [`crate::Store::quarantine_claim`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Token to pass to [`crate::Store::quarantine_finish`].
    pub token: String,
    /// The recipients this caller now owns (address, ESMTP parameters).
    /// Empty when nothing was left to release: report "already released".
    pub rcpts: Vec<(String, Vec<String>)>,
}

/// How a release attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseOutcome {
    /// The relay accepted the message: the recipients become `released`.
    Released,
    /// Re-injection failed: the recipients go back to `held`.
    Failed,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// A user name, or `gateway`/`expiry` for automatic actions.
    pub who: String,
    /// From where: `user@host` for the CLI, the client IP for HTTP.
    pub from: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When (unix ms).
    pub at: i64,
    /// Who.
    pub who: String,
    /// From where.
    pub from: String,
    /// What, e.g. `quarantine.release`.
    pub action: String,
    /// On what, e.g. the quarantine id.
    pub target: String,
    /// Details, e.g. the recipients concerned.
    pub detail: String,
}

/// What the organisation knows about an external sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderFacts {
    /// First message from this address (unix ms), `None` if never.
    pub address_first_seen: Option<i64>,
    /// Last message from this address.
    pub address_last_seen: Option<i64>,
    /// Messages received from this address.
    pub address_count: u64,
    /// First message from any address of this domain.
    pub domain_first_seen: Option<i64>,
    /// Last message from any address of this domain.
    pub domain_last_seen: Option<i64>,
    /// Messages received from this domain.
    pub domain_count: u64,
    /// Someone in the organisation has written to this address.
    pub address_replied: bool,
    /// Someone in the organisation has written to this domain.
    pub domain_replied: bool,
}

/// One version of a learned classifier model, shared by every gateway node.
///
/// The store treats `bytes` as opaque; `sha256` is computed by the store and
/// checked on every read, so a damaged model is a `Corrupt` error rather
/// than a model every node loads.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredModel {
    /// The model's name (one row per name).
    pub name: String,
    /// Compare-and-swap counter: 1 when created, +1 on every replacement.
    pub version: i64,
    /// The serialised model.
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    /// When this version was written (unix ms).
    pub updated_ms: i64,
    /// Who wrote it ([`Actor::who`]).
    pub updated_by: String,
}

impl std::fmt::Debug for StoredModel {
    /// Shows the size of the model, not its megabyte of bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredModel")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("sha256", &self.sha256)
            .field("updated_ms", &self.updated_ms)
            .field("updated_by", &self.updated_by)
            .finish()
    }
}

/// Where a user report stands.
///
/// ```text
///   new --decide(Confirmed)--> confirmed
///    |
///    +--decide(Dismissed)--> dismissed
/// ```
///
/// A decision is final: deciding again is a `Conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// Waiting for the IT centre.
    New,
    /// An administrator confirmed it is phishing.
    Confirmed,
    /// An administrator found it legitimate.
    Dismissed,
}

impl ReportStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::New => "new",
            ReportStatus::Confirmed => "confirmed",
            ReportStatus::Dismissed => "dismissed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<ReportStatus> {
        match s {
            "new" => Some(ReportStatus::New),
            "confirmed" => Some(ReportStatus::Confirmed),
            "dismissed" => Some(ReportStatus::Dismissed),
            _ => None,
        }
    }
}

/// A message a user reported as phishing ("this looks like phishing": a
/// forward to the report address or the report button). The caller parses
/// the message and fills the fields; the store computes the id and the
/// SHA-256 of `raw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReport {
    /// Address of the reporting user (compared and stored lowercased).
    pub reporter: String,
    /// Free text the user added, if any.
    pub note: Option<String>,
    /// The reported message exactly as received.
    pub raw: Vec<u8>,
    /// Its decoded `Subject:`.
    pub subject: String,
    /// Its `From:` address.
    pub sender: String,
    /// Its `Message-ID:`.
    pub message_id: Option<String>,
    /// What the gateway had done with it (`accept`, `warn`...), when known.
    pub verdict_action: Option<String>,
    /// The gateway's score for it, when known.
    pub score: Option<f64>,
    /// When the report arrived (unix ms).
    pub received_ms: i64,
}

/// A stored user report, without the raw message
/// ([`crate::Store::report_raw`] returns that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// Store-generated unique id: the creation time in microseconds and 64
    /// random bits, e.g. `1718000000123456-9f3c0a1b2c3d4e5f`.
    pub id: String,
    /// When the report arrived (unix ms).
    pub received_ms: i64,
    /// Lowercased address of the reporting user.
    pub reporter: String,
    /// Free text the user added.
    pub note: Option<String>,
    /// Hex SHA-256 of the reported message.
    pub sha256: String,
    /// Its decoded subject.
    pub subject: String,
    /// Its `From:` address.
    pub sender: String,
    /// Its `Message-ID:`.
    pub message_id: Option<String>,
    /// Where the report stands.
    pub status: ReportStatus,
    /// Who confirmed or dismissed it ([`Actor::who`]).
    pub decided_by: Option<String>,
    /// When (unix ms).
    pub decided_ms: Option<i64>,
    /// What the gateway had done with the message, when known.
    pub verdict_action: Option<String>,
    /// The gateway's score, when known.
    pub score: Option<f64>,
    /// How many distinct users reported the same message (same SHA-256),
    /// this one included; counted when read.
    pub reporters: i64,
}

/// Filters for [`crate::Store::report_list`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    /// Only reports in this state.
    pub status: Option<ReportStatus>,
    /// Page size: 0 means [`DEFAULT_LIMIT`], larger than [`MAX_LIMIT`] is clamped.
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Default for ReportQuery {
    fn default() -> Self {
        ReportQuery {
            status: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}
