//! Option negotiation (`O`): what to answer to the MTA's offer.
//!
//! Rules (reference §3.2), all enforced by [`negotiate`]:
//!
//! - version = `min(6, offered)`; an offer below 2 is refused (libmilter);
//! - actions = wanted ∩ offered (Postfix and Sendmail both fail the milter
//!   on any extra bit);
//! - protocol = wanted ∩ offered ∩ defined bits: Sendmail refuses bits it
//!   did not offer, and an NR_* bit the MTA does not know would make us
//!   stay silent where it waits for a reply;
//! - an offer of 0 actions or 0 protocol reads as the v1 defaults 0x0F /
//!   0x3F, as libmilter does;
//! - the v6 actions (CHGFROM, ADDRCPT_PAR, SETSYMLIST) only in a v6 answer;
//! - macro lists are sent only when SETSYMLIST is offered (and then the
//!   action bit is set too); empty lists are left out because Postfix reads
//!   an empty list as "use main.cf", not "none".

use crate::consts::*;
use crate::response::Response;

/// What the filter would like; [`negotiate`] intersects it with the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// `SMFIF_*` actions wanted (SETSYMLIST is added automatically).
    pub actions: u32,
    /// `SMFIP_*` bits wanted.
    pub protocol: u32,
    /// `(SMFIM_* stage, space-separated macro names)`; at most one per stage.
    pub macro_lists: Vec<(u32, String)>,
}

impl Default for Wanted {
    /// phishgate's choice:
    ///
    /// - actions: add/change headers, replace the body (link rewriting),
    ///   quarantine;
    /// - protocol: every NR_* bit (Postfix then pipelines all events and
    ///   only waits at end of message), NOUNKNOWN (nothing to learn from
    ///   unknown SMTP commands), and HDR_LEADSPC so that
    ///   [`Message::raw_message`](crate::Message::raw_message) rebuilds
    ///   header lines byte-exactly (DKIM `simple`, hashing). Never
    ///   NOHDRS/NOBODY/NOEOH: the analysis needs the content;
    /// - macro lists: the client facts at connect (`{client_addr}` is not
    ///   in Postfix's default list), the queue ID and SASL login at MAIL,
    ///   the queue ID at DATA and end of message.
    fn default() -> Self {
        Self {
            actions: SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE,
            protocol: SMFIP_NR_ALL | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC,
            macro_lists: vec![
                (
                    SMFIM_CONNECT,
                    "{client_addr} {client_name} {client_ptr} {client_port} {client_resolve} j _ {daemon_name}".to_owned(),
                ),
                (SMFIM_ENVFROM, "i {auth_type} {auth_authen} {mail_addr}".to_owned()),
                (SMFIM_DATA, "i".to_owned()),
                (SMFIM_EOM, "i".to_owned()),
            ],
        }
    }
}

/// The result of negotiation: what both sides agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Version answered.
    pub version: u32,
    /// Actions the filter may use.
    pub actions: u32,
    /// Protocol bits in force.
    pub protocol: u32,
    /// The MTA's offer, as received.
    pub offered: (u32, u32, u32),
}

impl Negotiated {
    /// True when the filter must not answer command `code` (NR_* in force).
    pub fn no_reply(&self, code: u8) -> bool {
        let bit = match code {
            SMFIC_CONNECT => SMFIP_NR_CONN,
            SMFIC_HELO => SMFIP_NR_HELO,
            SMFIC_MAIL => SMFIP_NR_MAIL,
            SMFIC_RCPT => SMFIP_NR_RCPT,
            SMFIC_DATA => SMFIP_NR_DATA,
            SMFIC_HEADER => SMFIP_NR_HDR,
            SMFIC_EOH => SMFIP_NR_EOH,
            SMFIC_BODY => SMFIP_NR_BODY,
            SMFIC_UNKNOWN => SMFIP_NR_UNKN,
            // A, D, Q, K never get a reply; O and E always do.
            SMFIC_ABORT | SMFIC_MACRO | SMFIC_QUIT | SMFIC_QUIT_NC => return true,
            _ => return false,
        };
        self.protocol & bit != 0
    }

    /// SMFIP_HDR_LEADSPC in force: header values keep the whitespace after
    /// the colon, both received and sent.
    pub fn leading_space(&self) -> bool {
        self.protocol & SMFIP_HDR_LEADSPC != 0
    }

    /// The filter may use action `flag` (`SMFIF_*`).
    pub fn can(&self, flag: u32) -> bool {
        self.actions & flag == flag
    }
}

impl Default for Negotiated {
    /// Before any `O`: version 6, no actions, no protocol bits (every
    /// command answered).
    fn default() -> Self {
        Self {
            version: PROTOCOL_VERSION,
            actions: 0,
            protocol: 0,
            offered: (0, 0, 0),
        }
    }
}

/// Why negotiation failed. The adapter should close the connection; the
/// MTA then applies `milter_default_action`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiateError {
    /// Offered version below 2.
    #[error("MTA offers milter protocol version {0}; at least 2 is required")]
    VersionTooOld(u32),
    /// A macro list for a stage outside 0..=6.
    #[error("macro list for unknown stage {0}")]
    BadStage(u32),
    /// Two macro lists for one stage.
    #[error("two macro lists for stage {0}")]
    DuplicateStage(u32),
    /// A macro list with a NUL byte or more than 50 names.
    #[error("invalid macro list for stage {0}")]
    BadMacroList(u32),
}

/// Answer an offer. Returns the `O` response to send and the agreed
/// [`Negotiated`] state.
pub fn negotiate(
    offered_version: u32,
    offered_actions: u32,
    offered_protocol: u32,
    wanted: &Wanted,
) -> Result<(Response, Negotiated), NegotiateError> {
    if offered_version < PROTOCOL_VERSION_MIN {
        return Err(NegotiateError::VersionTooOld(offered_version));
    }
    let mut seen = 0u32;
    for (stage, list) in &wanted.macro_lists {
        if *stage > SMFIM_EOH {
            return Err(NegotiateError::BadStage(*stage));
        }
        if seen & (1 << stage) != 0 {
            return Err(NegotiateError::DuplicateStage(*stage));
        }
        seen |= 1 << stage;
        if list.contains('\0') || list.split_whitespace().count() > MAX_MACROS_PER_LIST {
            return Err(NegotiateError::BadMacroList(*stage));
        }
    }
    let version = offered_version.min(PROTOCOL_VERSION);
    let offer_actions = if offered_actions == 0 {
        SMFI_V1_ACTS
    } else {
        offered_actions
    };
    let offer_protocol = if offered_protocol == 0 {
        SMFI_V1_PROT
    } else {
        offered_protocol
    };
    // CHGFROM, ADDRCPT_PAR and SETSYMLIST are v6 additions; Postfix offers
    // all nine actions whatever the version, so mask them for older answers.
    let defined = if version >= PROTOCOL_VERSION {
        SMFI_CURR_ACTS
    } else {
        SMFI_V2_ACTS
    };
    let mut actions = wanted.actions & offer_actions & defined & !SMFIF_SETSYMLIST;
    let protocol = wanted.protocol & offer_protocol & SMFI_CURR_PROT;
    let macro_lists: Vec<(u32, String)> = if offer_actions & defined & SMFIF_SETSYMLIST != 0 {
        wanted
            .macro_lists
            .iter()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(s, l)| (*s, l.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect()
    } else {
        Vec::new()
    };
    if !macro_lists.is_empty() {
        actions |= SMFIF_SETSYMLIST;
    }
    let negotiated = Negotiated {
        version,
        actions,
        protocol,
        offered: (offered_version, offered_actions, offered_protocol),
    };
    Ok((
        Response::OptNeg {
            version,
            actions,
            protocol,
            macro_lists,
        },
        negotiated,
    ))
}
