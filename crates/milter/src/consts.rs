//! Wire constants of milter protocol version 6.
//!
//! Names follow Sendmail's `mfdef.h`/`mfapi.h` so they can be grepped
//! against the reference (`milter-protocol.md` §2); values were written down
//! from that reference, not copied from any implementation.

// ---------------------------------------------------------------- framing

/// Default bound on one frame's `len` field (code byte + payload): 1 MiB.
///
/// Postfix does not cap what it sends at 64 KiB: one header may reach
/// `header_size_limit` = 102 400 bytes, so the bound must sit well above
/// [`MAX_CHUNK`]. Configurable per decoder with
/// [`Decoder::with_max_frame`](crate::Decoder::with_max_frame).
pub const MAX_FRAME: usize = 1024 * 1024;

/// Largest body chunk in either direction (`MILTER_CHUNK_SIZE`). Body
/// replacement is split into `b` packets of at most this many bytes.
pub const MAX_CHUNK: usize = 65535;

/// Highest protocol version this crate speaks (there is no version 5).
pub const PROTOCOL_VERSION: u32 = 6;

/// Lowest protocol version accepted from an MTA (libmilter refuses below 2).
pub const PROTOCOL_VERSION_MIN: u32 = 2;

// ---------------------------------------------------- commands (MTA -> filter)

/// `A`: forget the current message (no reply).
pub const SMFIC_ABORT: u8 = b'A';
/// `B`: one body chunk.
pub const SMFIC_BODY: u8 = b'B';
/// `C`: client connection facts.
pub const SMFIC_CONNECT: u8 = b'C';
/// `D`: macros for the command named by the stage byte (no reply).
pub const SMFIC_MACRO: u8 = b'D';
/// `E`: end of message (may carry a last body chunk).
pub const SMFIC_BODYEOB: u8 = b'E';
/// `H`: HELO/EHLO argument.
pub const SMFIC_HELO: u8 = b'H';
/// `K`: quit, but keep the socket for a new connection (no reply).
pub const SMFIC_QUIT_NC: u8 = b'K';
/// `L`: one header.
pub const SMFIC_HEADER: u8 = b'L';
/// `M`: MAIL FROM and its ESMTP arguments.
pub const SMFIC_MAIL: u8 = b'M';
/// `N`: end of headers.
pub const SMFIC_EOH: u8 = b'N';
/// `O`: option negotiation.
pub const SMFIC_OPTNEG: u8 = b'O';
/// `Q`: quit (no reply; close).
pub const SMFIC_QUIT: u8 = b'Q';
/// `R`: RCPT TO and its ESMTP arguments.
pub const SMFIC_RCPT: u8 = b'R';
/// `T`: DATA.
pub const SMFIC_DATA: u8 = b'T';
/// `U`: an unknown SMTP command line.
pub const SMFIC_UNKNOWN: u8 = b'U';

// -------------------------------------------------- responses (filter -> MTA)

/// `+`: add a recipient.
pub const SMFIR_ADDRCPT: u8 = b'+';
/// `-`: delete a recipient.
pub const SMFIR_DELRCPT: u8 = b'-';
/// `2`: add a recipient with ESMTP arguments.
pub const SMFIR_ADDRCPT_PAR: u8 = b'2';
/// `4`: shutdown. "Internal to MTA"; never sent by this crate (use a 421 `y`).
pub const SMFIR_SHUTDOWN: u8 = b'4';
/// `a`: accept.
pub const SMFIR_ACCEPT: u8 = b'a';
/// `b`: one chunk of replacement body.
pub const SMFIR_REPLBODY: u8 = b'b';
/// `c`: continue.
pub const SMFIR_CONTINUE: u8 = b'c';
/// `d`: discard.
pub const SMFIR_DISCARD: u8 = b'd';
/// `e`: change the envelope sender.
pub const SMFIR_CHGFROM: u8 = b'e';
/// `f`: connection failure. Postfix treats it as a protocol error; never sent.
pub const SMFIR_CONN_FAIL: u8 = b'f';
/// `h`: append a header.
pub const SMFIR_ADDHEADER: u8 = b'h';
/// `i`: insert a header at an index.
pub const SMFIR_INSHEADER: u8 = b'i';
/// `l`: symbol list. Only ever travels inside the `O` reply; never a packet.
pub const SMFIR_SETSYMLIST: u8 = b'l';
/// `m`: change (or, with an empty value, delete) a header.
pub const SMFIR_CHGHEADER: u8 = b'm';
/// `p`: progress ("still working").
pub const SMFIR_PROGRESS: u8 = b'p';
/// `q`: quarantine (Postfix: hold queue).
pub const SMFIR_QUARANTINE: u8 = b'q';
/// `r`: reject.
pub const SMFIR_REJECT: u8 = b'r';
/// `s`: skip further events of this kind.
pub const SMFIR_SKIP: u8 = b's';
/// `t`: temporary failure.
pub const SMFIR_TEMPFAIL: u8 = b't';
/// `y`: custom SMTP reply text.
pub const SMFIR_REPLYCODE: u8 = b'y';
/// `O`: the filter's negotiation answer (same letter as the command).
pub const SMFIR_OPTNEG: u8 = b'O';

// ------------------------------------------------------- action flags (SMFIF)

/// May add headers (`h`, `i`).
pub const SMFIF_ADDHDRS: u32 = 0x001;
/// May replace the body (`b`).
pub const SMFIF_CHGBODY: u32 = 0x002;
/// Alias of [`SMFIF_CHGBODY`].
pub const SMFIF_MODBODY: u32 = SMFIF_CHGBODY;
/// May add recipients (`+`).
pub const SMFIF_ADDRCPT: u32 = 0x004;
/// May delete recipients (`-`).
pub const SMFIF_DELRCPT: u32 = 0x008;
/// May change or delete headers (`m`).
pub const SMFIF_CHGHDRS: u32 = 0x010;
/// May quarantine (`q`).
pub const SMFIF_QUARANTINE: u32 = 0x020;
/// May change the envelope sender (`e`, v6).
pub const SMFIF_CHGFROM: u32 = 0x040;
/// May add recipients with ESMTP arguments (`2`, v6).
pub const SMFIF_ADDRCPT_PAR: u32 = 0x080;
/// May send macro lists in the `O` reply (v6).
pub const SMFIF_SETSYMLIST: u32 = 0x100;
/// No actions.
pub const SMFIF_NONE: u32 = 0;
/// Version 1 actions.
pub const SMFI_V1_ACTS: u32 = 0x0F;
/// Version 2 actions.
pub const SMFI_V2_ACTS: u32 = 0x3F;
/// Every action defined by version 6.
pub const SMFI_CURR_ACTS: u32 = 0x1FF;

// ----------------------------------------------------- protocol flags (SMFIP)

/// Do not send `C`.
pub const SMFIP_NOCONNECT: u32 = 0x0000_0001;
/// Do not send `H`.
pub const SMFIP_NOHELO: u32 = 0x0000_0002;
/// Do not send `M`.
pub const SMFIP_NOMAIL: u32 = 0x0000_0004;
/// Do not send `R`.
pub const SMFIP_NORCPT: u32 = 0x0000_0008;
/// Do not send `B`.
pub const SMFIP_NOBODY: u32 = 0x0000_0010;
/// Do not send `L`.
pub const SMFIP_NOHDRS: u32 = 0x0000_0020;
/// Do not send `N`.
pub const SMFIP_NOEOH: u32 = 0x0000_0040;
/// No reply to `L` (old name `SMFIP_NOHREPL`).
pub const SMFIP_NR_HDR: u32 = 0x0000_0080;
/// Do not send `U`.
pub const SMFIP_NOUNKNOWN: u32 = 0x0000_0100;
/// Do not send `T`.
pub const SMFIP_NODATA: u32 = 0x0000_0200;
/// MTA understands `s`; filter may send it.
pub const SMFIP_SKIP: u32 = 0x0000_0400;
/// Also send recipients the MTA itself rejected.
pub const SMFIP_RCPT_REJ: u32 = 0x0000_0800;
/// No reply to `C`.
pub const SMFIP_NR_CONN: u32 = 0x0000_1000;
/// No reply to `H`.
pub const SMFIP_NR_HELO: u32 = 0x0000_2000;
/// No reply to `M`.
pub const SMFIP_NR_MAIL: u32 = 0x0000_4000;
/// No reply to `R`.
pub const SMFIP_NR_RCPT: u32 = 0x0000_8000;
/// No reply to `T`.
pub const SMFIP_NR_DATA: u32 = 0x0001_0000;
/// No reply to `U`.
pub const SMFIP_NR_UNKN: u32 = 0x0002_0000;
/// No reply to `N`.
pub const SMFIP_NR_EOH: u32 = 0x0004_0000;
/// No reply to `B`.
pub const SMFIP_NR_BODY: u32 = 0x0008_0000;
/// Keep the whitespace after the header colon, both ways.
pub const SMFIP_HDR_LEADSPC: u32 = 0x0010_0000;
/// Sendmail `_FFR_MDS_NEGOTIATE` only: 256 KiB packets. Never requested here.
pub const SMFIP_MDS_256K: u32 = 0x1000_0000;
/// Sendmail `_FFR_MDS_NEGOTIATE` only: 1 MiB packets. Never requested here.
pub const SMFIP_MDS_1M: u32 = 0x2000_0000;
/// Version 1 protocol bits.
pub const SMFI_V1_PROT: u32 = 0x3F;
/// Version 2 protocol bits.
pub const SMFI_V2_PROT: u32 = 0x7F;
/// Every protocol bit defined by version 6.
pub const SMFI_CURR_PROT: u32 = 0x001F_FFFF;
/// All "no reply" bits.
pub const SMFIP_NR_ALL: u32 = SMFIP_NR_HDR
    | SMFIP_NR_CONN
    | SMFIP_NR_HELO
    | SMFIP_NR_MAIL
    | SMFIP_NR_RCPT
    | SMFIP_NR_DATA
    | SMFIP_NR_UNKN
    | SMFIP_NR_EOH
    | SMFIP_NR_BODY;

// ------------------------------------------------------------ families (SMFIA)

/// Unknown family: no port and no address follow.
pub const SMFIA_UNKNOWN: u8 = b'U';
/// UNIX-domain socket.
pub const SMFIA_UNIX: u8 = b'L';
/// IPv4.
pub const SMFIA_INET: u8 = b'4';
/// IPv6.
pub const SMFIA_INET6: u8 = b'6';

// ----------------------------------------------- macro list stages (SMFIM)
//
// These numbers appear only in the macro lists of the `O` reply; `D` packets
// name their stage with a command letter. Note EOM (5) before EOH (6).

/// Connect macros (`D C`).
pub const SMFIM_CONNECT: u32 = 0;
/// HELO macros (`D H`).
pub const SMFIM_HELO: u32 = 1;
/// MAIL macros (`D M`).
pub const SMFIM_ENVFROM: u32 = 2;
/// RCPT macros (`D R`).
pub const SMFIM_ENVRCPT: u32 = 3;
/// DATA macros (`D T`).
pub const SMFIM_DATA: u32 = 4;
/// End-of-message macros (`D E`, and Postfix's `D B`).
pub const SMFIM_EOM: u32 = 5;
/// End-of-header macros (`D N`, and Postfix's `D L`).
pub const SMFIM_EOH: u32 = 6;

/// Most macro names per stage list (libmilter's documented limit).
pub const MAX_MACROS_PER_LIST: usize = 50;

// ------------------------------------------------------------ reply text (§8)

/// Most lines in one multi-line `y` reply.
pub const MAX_REPLY_LINES: usize = 32;
/// Most bytes of text per reply line, before `%` doubling (`MAXREPLYLEN`).
pub const MAX_REPLY_LINE: usize = 980;

/// Longest header line (bytes) a filter may send; the MTA limit is 2048.
pub const MAX_HEADER_LINE: usize = 2047;
/// Header lines longer than this are folded at whitespace when possible.
pub const FOLD_HEADER_LINE: usize = 998;
