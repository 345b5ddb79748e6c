//! Commands (MTA -> filter): the [`Command`] type, the [`Decoder`] a filter
//! feeds with socket bytes, and [`encode_command`] for the MTA side (tests
//! and the load generator).

use crate::consts::*;
use crate::error::DecodeError;
use crate::wire::{put_cstr, put_frame, text, Framer, Reader};

/// Address family of the client in a `C` packet (`SMFIA_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// `'U'`: unknown; the packet carries no port and no address.
    #[default]
    Unknown,
    /// `'L'`: UNIX-domain socket; the address is a path, the port 0.
    Unix,
    /// `'4'`: IPv4.
    Inet4,
    /// `'6'`: IPv6 (the address is bare, without Postfix's `IPv6:` prefix).
    Inet6,
}

impl Family {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Family::Unknown => SMFIA_UNKNOWN,
            Family::Unix => SMFIA_UNIX,
            Family::Inet4 => SMFIA_INET,
            Family::Inet6 => SMFIA_INET6,
        }
    }

    /// Parse the wire byte.
    pub fn from_byte(b: u8) -> Option<Family> {
        match b {
            SMFIA_UNKNOWN => Some(Family::Unknown),
            SMFIA_UNIX => Some(Family::Unix),
            SMFIA_INET => Some(Family::Inet4),
            SMFIA_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// One command from the MTA. Text fields are lossy UTF-8; header values and
/// body bytes stay raw because mail may be 8-bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `O`: the MTA's offer.
    OptNeg {
        /// Protocol version offered (Postfix: 2, 3, 4 or 6).
        version: u32,
        /// `SMFIF_*` actions the MTA allows.
        actions: u32,
        /// `SMFIP_*` protocol bits the MTA understands.
        protocol: u32,
    },
    /// `D`: macros for the command whose letter is `stage` (any letter is
    /// accepted; Postfix also uses `L`, `B` and `U`). Zero pairs is valid.
    Macro {
        /// Command letter the macros belong to.
        stage: u8,
        /// Name/value pairs in wire order; names as sent (`i`, `{client_addr}`).
        pairs: Vec<(String, String)>,
    },
    /// `C`: connection facts.
    Connect {
        /// Client host name (Postfix: verified name, or `[a.b.c.d]`).
        hostname: String,
        /// Address family.
        family: Family,
        /// Client port (0 for `Unix` and `Unknown`).
        port: u16,
        /// Bare address text, socket path for `Unix`, empty for `Unknown`.
        address: String,
    },
    /// `H`: the HELO/EHLO argument.
    Helo(String),
    /// `M`: MAIL FROM as the client wrote it (`<a@b>`, `<>`, or bare for
    /// Postfix's non-SMTP path) and its ESMTP arguments.
    Mail {
        /// argv\[0\]: the sender, raw.
        sender: String,
        /// ESMTP parameters, one per string.
        args: Vec<String>,
    },
    /// `R`: RCPT TO, same layout as `Mail`.
    Rcpt {
        /// argv\[0\]: the recipient, raw.
        recipient: String,
        /// ESMTP parameters.
        args: Vec<String>,
    },
    /// `T`: DATA.
    Data,
    /// `L`: one header; folded values keep their bare-LF folds.
    Header {
        /// Header name.
        name: String,
        /// Header value, raw bytes (8-bit allowed).
        value: Vec<u8>,
    },
    /// `N`: end of headers.
    EndOfHeaders,
    /// `B`: one body chunk.
    Body(Vec<u8>),
    /// `E`: end of message; libmilter allows a last body chunk here.
    EndOfMessage(Vec<u8>),
    /// `U`: an unknown SMTP command line (without its NUL).
    Unknown(Vec<u8>),
    /// `A`: abort the current message.
    Abort,
    /// `Q`: quit.
    Quit,
    /// `K`: quit, then a new connection on the same socket.
    QuitNewConnection,
}

impl Command {
    /// The command letter (`SMFIC_*`).
    pub fn code(&self) -> u8 {
        match self {
            Command::OptNeg { .. } => SMFIC_OPTNEG,
            Command::Macro { .. } => SMFIC_MACRO,
            Command::Connect { .. } => SMFIC_CONNECT,
            Command::Helo(_) => SMFIC_HELO,
            Command::Mail { .. } => SMFIC_MAIL,
            Command::Rcpt { .. } => SMFIC_RCPT,
            Command::Data => SMFIC_DATA,
            Command::Header { .. } => SMFIC_HEADER,
            Command::EndOfHeaders => SMFIC_EOH,
            Command::Body(_) => SMFIC_BODY,
            Command::EndOfMessage(_) => SMFIC_BODYEOB,
            Command::Unknown(_) => SMFIC_UNKNOWN,
            Command::Abort => SMFIC_ABORT,
            Command::Quit => SMFIC_QUIT,
            Command::QuitNewConnection => SMFIC_QUIT_NC,
        }
    }

    /// Parse one frame's code and payload.
    pub fn parse(code: u8, payload: &[u8]) -> Result<Command, DecodeError> {
        let bad = |what| DecodeError::malformed(code, what);
        let mut r = Reader::new(payload);
        let cmd = match code {
            SMFIC_OPTNEG => {
                // libmilter refuses fewer than 12 bytes; bytes beyond 12 are
                // ignored (no MTA sends them; nothing defines them).
                let (Some(version), Some(actions), Some(protocol)) = (r.u32(), r.u32(), r.u32())
                else {
                    return Err(bad("OPTNEG shorter than 12 bytes"));
                };
                return Ok(Command::OptNeg {
                    version,
                    actions,
                    protocol,
                });
            }
            SMFIC_MACRO => {
                let stage = r
                    .u8()
                    .ok_or_else(|| bad("macro packet without stage byte"))?;
                let strs = r.cstrs().ok_or_else(|| bad("macro string without NUL"))?;
                let mut it = strs.chunks_exact(2);
                let pairs = it
                    .by_ref()
                    .filter_map(|p| match p {
                        [n, v] => Some((text(n), text(v))),
                        _ => None,
                    })
                    .collect();
                if !it.remainder().is_empty() {
                    return Err(bad("macro name without value"));
                }
                Command::Macro { stage, pairs }
            }
            SMFIC_CONNECT => {
                let hostname = text(r.cstr().ok_or_else(|| bad("hostname without NUL"))?);
                let fam = r.u8().ok_or_else(|| bad("missing family"))?;
                let family = Family::from_byte(fam).ok_or_else(|| bad("unknown address family"))?;
                let (port, address) = if family == Family::Unknown {
                    (0, String::new())
                } else {
                    let port = r.u16().ok_or_else(|| bad("missing port"))?;
                    let addr = r.cstr().ok_or_else(|| bad("address without NUL"))?;
                    (port, text(addr))
                };
                Command::Connect {
                    hostname,
                    family,
                    port,
                    address,
                }
            }
            SMFIC_HELO => Command::Helo(text(one_str(&mut r, code)?)),
            SMFIC_UNKNOWN => Command::Unknown(one_str(&mut r, code)?.to_vec()),
            SMFIC_MAIL | SMFIC_RCPT => {
                let strs = r.cstrs().ok_or_else(|| bad("argument without NUL"))?;
                let Some((first, rest)) = strs.split_first() else {
                    return Err(bad("no address"));
                };
                let addr = text(first);
                let args = rest.iter().map(|a| text(a)).collect();
                if code == SMFIC_MAIL {
                    Command::Mail { sender: addr, args }
                } else {
                    Command::Rcpt {
                        recipient: addr,
                        args,
                    }
                }
            }
            SMFIC_HEADER => {
                let name = r.cstr().ok_or_else(|| bad("header name without NUL"))?;
                let value = r.cstr().ok_or_else(|| bad("header value without NUL"))?;
                Command::Header {
                    name: text(name),
                    value: value.to_vec(),
                }
            }
            SMFIC_BODY => return Ok(Command::Body(payload.to_vec())),
            SMFIC_BODYEOB => return Ok(Command::EndOfMessage(payload.to_vec())),
            SMFIC_DATA => Command::Data,
            SMFIC_EOH => Command::EndOfHeaders,
            SMFIC_ABORT => Command::Abort,
            SMFIC_QUIT => Command::Quit,
            SMFIC_QUIT_NC => Command::QuitNewConnection,
            other => return Err(DecodeError::UnknownCode(other)),
        };
        if r.is_empty() {
            Ok(cmd)
        } else {
            Err(bad("unexpected trailing bytes"))
        }
    }
}

fn one_str<'a>(r: &mut Reader<'a>, code: u8) -> Result<&'a [u8], DecodeError> {
    r.cstr()
        .ok_or_else(|| DecodeError::malformed(code, "string without NUL"))
}

/// Incremental command decoder: bytes in, [`Command`]s out.
///
/// Memory: the buffer holds the unparsed tail, i.e. at most one incomplete
/// frame (bounded by [`max_frame`](Self::max_frame) + 4) plus whatever the
/// last [`feed`](Self::feed) added. Drain [`next_command`](Self::next_command)
/// until `Ok(None)` before feeding again and memory stays bounded. An
/// oversized length is refused as soon as its 4 bytes arrive, before any
/// payload is buffered. After an error the decoder is poisoned: it drops
/// further input and repeats the error.
#[derive(Debug, Clone)]
pub struct Decoder {
    framer: Framer,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder bounded by [`MAX_FRAME`].
    pub fn new() -> Self {
        Self::with_max_frame(MAX_FRAME)
    }

    /// A decoder bounded by `max_frame` bytes per frame (the `len` field:
    /// code byte + payload). Keep it above [`MAX_CHUNK`] + 1, and above
    /// Postfix's `header_size_limit` (102 400) if headers must pass.
    pub fn with_max_frame(max_frame: usize) -> Self {
        Self {
            framer: Framer::new(max_frame),
        }
    }

    /// The frame bound.
    pub fn max_frame(&self) -> usize {
        self.framer.max_frame()
    }

    /// Append bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.framer.feed(bytes);
    }

    /// The next complete command; `Ok(None)` when more bytes are needed.
    pub fn next_command(&mut self) -> Result<Option<Command>, DecodeError> {
        let parsed = match self.framer.next_frame()? {
            None => return Ok(None),
            Some((code, payload)) => Command::parse(code, payload),
        };
        match parsed {
            Ok(c) => Ok(Some(c)),
            Err(e) => Err(self.framer.fail(e)),
        }
    }

    /// Bytes buffered but not yet returned as a command.
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    /// Call at EOF: `Err(Truncated)` if the stream stopped inside a frame,
    /// or the stored error if the decoder is poisoned.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(e) = self.framer.failed() {
            return Err(e.clone());
        }
        match self.buffered() {
            0 => Ok(()),
            n => Err(DecodeError::Truncated { buffered: n }),
        }
    }
}

/// Append the wire form of `cmd` (MTA side: tests, load generator).
///
/// Strings lose any inner NUL (it would split the field); `Connect` with
/// `Family::Unknown` carries no port and no address.
pub fn encode_command(cmd: &Command, out: &mut Vec<u8>) {
    let mut p = Vec::new();
    match cmd {
        Command::OptNeg {
            version,
            actions,
            protocol,
        } => {
            p.extend_from_slice(&version.to_be_bytes());
            p.extend_from_slice(&actions.to_be_bytes());
            p.extend_from_slice(&protocol.to_be_bytes());
        }
        Command::Macro { stage, pairs } => {
            p.push(*stage);
            for (n, v) in pairs {
                put_cstr(&mut p, n.as_bytes());
                put_cstr(&mut p, v.as_bytes());
            }
        }
        Command::Connect {
            hostname,
            family,
            port,
            address,
        } => {
            put_cstr(&mut p, hostname.as_bytes());
            p.push(family.byte());
            if *family != Family::Unknown {
                p.extend_from_slice(&port.to_be_bytes());
                put_cstr(&mut p, address.as_bytes());
            }
        }
        Command::Helo(h) => put_cstr(&mut p, h.as_bytes()),
        Command::Mail { sender: a, args } | Command::Rcpt { recipient: a, args } => {
            put_cstr(&mut p, a.as_bytes());
            for arg in args {
                put_cstr(&mut p, arg.as_bytes());
            }
        }
        Command::Header { name, value } => {
            put_cstr(&mut p, name.as_bytes());
            put_cstr(&mut p, value);
        }
        Command::Body(b) | Command::EndOfMessage(b) => p.extend_from_slice(b),
        Command::Unknown(line) => put_cstr(&mut p, line),
        Command::Data
        | Command::EndOfHeaders
        | Command::Abort
        | Command::Quit
        | Command::QuitNewConnection => {}
    }
    put_frame(out, cmd.code(), &[&p]);
}
