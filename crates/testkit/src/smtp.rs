//! A minimal in-process SMTP client (std only), for what swaks cannot do:
//! several messages on one connection, exact bytes, hand-made command
//! sequences.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long one read or write may block before the client gives up.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// One SMTP reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The text of each line, without the code and the separator
    /// (`"2.0.0 Ok: queued as 4Xk…"`).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx (`354` after `DATA`).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// All lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The Postfix queue id from `250 2.0.0 Ok: queued as QID`, if present.
    pub fn queue_id(&self) -> Option<String> {
        self.lines.iter().find_map(|l| {
            l.split_once("queued as ")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_owned())
                .filter(|id| !id.is_empty())
        })
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.lines.len();
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}{sep}{line}", self.code)?;
        }
        if n == 0 {
            write!(f, "{}", self.code)?;
        }
        Ok(())
    }
}

/// A message for [`send_raw_smtp`]: an envelope and the exact bytes of the
/// message (header and body; the client dot-stuffs them and adds the final
/// `.`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The envelope sender; `""` sends the null sender `<>`.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// Extra `MAIL FROM` parameters, e.g. `"SMTPUTF8"`, `"BODY=8BITMIME"`.
    pub mail_params: Vec<String>,
    /// The whole message. Line endings are sent as given (use `\r\n`).
    pub data: Vec<u8>,
}

impl Message {
    /// A message with no extra `MAIL FROM` parameters.
    pub fn new(from: impl Into<String>, to: &[&str], data: impl Into<Vec<u8>>) -> Self {
        Message {
            from: from.into(),
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            mail_params: Vec::new(),
            data: data.into(),
        }
    }
}

/// What the server answered to one message's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyOutcome {
    /// The reply to `RSET` sent before this message (not for the first one).
    pub rset: Option<Reply>,
    /// The reply to `MAIL FROM`.
    pub mail: Reply,
    /// The reply to each `RCPT TO`, in order (empty when `MAIL` failed).
    pub rcpts: Vec<Reply>,
    /// The reply to `DATA` (`None` when no recipient was accepted).
    pub data: Option<Reply>,
    /// The reply to the end of data (`None` when `DATA` was not sent or
    /// refused).
    pub end_of_data: Option<Reply>,
}

impl ReplyOutcome {
    /// The code that decided the transaction: the reply to the end of data,
    /// else the first failing reply (`MAIL`, the last `RCPT`, `DATA`).
    pub fn final_code(&self) -> u16 {
        if let Some(r) = &self.end_of_data {
            return r.code;
        }
        if !self.mail.is_positive() {
            return self.mail.code;
        }
        if let Some(r) = &self.data {
            return r.code;
        }
        self.rcpts
            .iter()
            .find(|r| !r.is_positive())
            .map_or(self.mail.code, |r| r.code)
    }

    /// True when the message was accepted (2xx at the end of data).
    pub fn accepted(&self) -> bool {
        self.end_of_data.as_ref().is_some_and(Reply::is_positive)
    }

    /// The queue id from the end-of-data reply, if Postfix gave one.
    pub fn queue_id(&self) -> Option<String> {
        self.end_of_data.as_ref().and_then(Reply::queue_id)
    }
}

/// Dot-stuff `data` and terminate it: every line that starts with `.` gets
/// another `.`, and `.\r\n` is appended (after a `\r\n` if `data` does not
/// end with a line feed).
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8);
    let mut at_line_start = true;
    for &b in data {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !data.is_empty() && !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A blocking SMTP client session over `TcpStream`, one command at a time.
#[derive(Debug)]
pub struct SmtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    peer: SocketAddr,
    /// The server greeting.
    pub greeting: Reply,
}

impl SmtpClient {
    /// Connect and read the greeting (any code; check [`SmtpClient::greeting`]).
    pub fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| Error::io(format!("connecting to {addr}"), e))?;
        let set = |s: &TcpStream| -> std::io::Result<()> {
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))
        };
        set(&stream).map_err(|e| Error::io(format!("configuring socket to {addr}"), e))?;
        let writer = stream
            .try_clone()
            .map_err(|e| Error::io(format!("cloning socket to {addr}"), e))?;
        let mut reader = BufReader::new(stream);
        let greeting = read_reply(&mut reader, addr)?;
        Ok(SmtpClient {
            reader,
            writer,
            peer: addr,
            greeting,
        })
    }

    /// Send one command line (the client adds `\r\n`) and read the reply.
    pub fn command(&mut self, line: &str) -> Result<Reply> {
        self.send_raw(format!("{line}\r\n").as_bytes())?;
        self.read_reply()
    }

    /// Send bytes as they are, without reading anything.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .and_then(|()| self.writer.flush())
            .map_err(|e| Error::io(format!("writing to {}", self.peer), e))
    }

    /// Read one (possibly multi-line) reply.
    pub fn read_reply(&mut self) -> Result<Reply> {
        read_reply(&mut self.reader, self.peer)
    }

    /// After a `354`: send the message dot-stuffed with its terminating `.`
    /// and read the end-of-data reply.
    pub fn send_data(&mut self, data: &[u8]) -> Result<Reply> {
        self.send_raw(&dot_stuff(data))?;
        self.read_reply()
    }

    /// Run one mail transaction (`MAIL`, `RCPT`…, `DATA`, data), without `RSET`.
    pub fn transaction(&mut self, msg: &Message) -> Result<ReplyOutcome> {
        let mut mail_cmd = format!("MAIL FROM:<{}>", msg.from);
        for p in &msg.mail_params {
            mail_cmd.push(' ');
            mail_cmd.push_str(p);
        }
        let mail = self.command(&mail_cmd)?;
        let mut outcome = ReplyOutcome {
            rset: None,
            mail,
            rcpts: Vec::new(),
            data: None,
            end_of_data: None,
        };
        if !outcome.mail.is_positive() {
            return Ok(outcome);
        }
        for rcpt in &msg.to {
            let r = self.command(&format!("RCPT TO:<{rcpt}>"))?;
            outcome.rcpts.push(r);
        }
        if !outcome.rcpts.iter().any(Reply::is_positive) {
            return Ok(outcome);
        }
        let data = self.command("DATA")?;
        let go = data.code == 354;
        outcome.data = Some(data);
        if go {
            outcome.end_of_data = Some(self.send_data(&msg.data)?);
        }
        Ok(outcome)
    }

    /// Send `QUIT` and read the reply (errors ignored: the session is over).
    pub fn quit(mut self) {
        let _ = self.command("QUIT");
    }
}

fn read_reply(reader: &mut BufReader<TcpStream>, peer: SocketAddr) -> Result<Reply> {
    let mut lines = Vec::new();
    loop {
        let mut raw = Vec::new();
        let n = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| Error::io(format!("reading a reply from {peer}"), e))?;
        if n == 0 {
            return Err(Error::Protocol(format!(
                "{peer} closed the connection (reply so far: {lines:?})"
            )));
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..600).contains(c))
            .ok_or_else(|| Error::Protocol(format!("{peer} sent a non-SMTP line: {line:?}")))?;
        let sep = line.as_bytes().get(3).copied();
        lines.push(line.get(4..).unwrap_or("").to_owned());
        match sep {
            Some(b'-') => continue,
            None | Some(b' ') => return Ok(Reply { code, lines }),
            Some(_) => {
                return Err(Error::Protocol(format!(
                    "{peer} sent a malformed reply line: {line:?}"
                )))
            }
        }
    }
}

/// Send several messages on one connection: greeting, `EHLO ehlo`, then per
/// message `MAIL`/`RCPT`/`DATA` with `RSET` between messages, then `QUIT`.
///
/// Returns one [`ReplyOutcome`] per message. Refused commands are recorded,
/// not turned into errors; `Err` means the connection itself failed or the
/// greeting or `EHLO` was refused.
pub fn send_raw_smtp(
    addr: SocketAddr,
    ehlo: &str,
    messages: &[Message],
) -> Result<Vec<ReplyOutcome>> {
    let mut client = SmtpClient::connect(addr)?;
    if !client.greeting.is_positive() {
        return Err(Error::Protocol(format!(
            "{addr} refused the session: {}",
            client.greeting
        )));
    }
    let ehlo_reply = client.command(&format!("EHLO {ehlo}"))?;
    if !ehlo_reply.is_positive() {
        return Err(Error::Protocol(format!(
            "{addr} refused EHLO: {ehlo_reply}"
        )));
    }
    let mut outcomes = Vec::with_capacity(messages.len());
    for (i, msg) in messages.iter().enumerate() {
        let rset = if i > 0 {
            Some(client.command("RSET")?)
        } else {
            None
        };
        let mut outcome = client.transaction(msg)?;
        outcome.rset = rset;
        outcomes.push(outcome);
    }
    client.quit();
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b".a\r\nb\r\n.\r\n"), b"..a\r\nb\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"a\n.b\n"), b"a\n..b\n.\r\n");
    }

    #[test]
    fn queue_id_and_display() {
        let r = Reply {
            code: 250,
            lines: vec!["2.0.0 Ok: queued as 4ABCDEF".into()],
        };
        assert_eq!(r.queue_id().as_deref(), Some("4ABCDEF"));
        assert_eq!(r.to_string(), "250 2.0.0 Ok: queued as 4ABCDEF");
        let m = Reply {
            code: 451,
            lines: vec!["a".into(), "b".into()],
        };
        assert_eq!(m.to_string(), "451-a\n451 b");
    }
}
