//! Sending with swaks, and reading its transcript.

use crate::smtp::Reply;

/// The sender domain that every instance delivers to the `bounces/` Maildir,
/// so that bounces and notices need no DNS. Use it for envelope senders.
pub const SENDER_DOMAIN: &str = "sender.test";

/// One message to send with swaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSpec {
    /// Envelope sender (`--from`); `"<>"` is the null sender.
    pub from: String,
    /// Envelope recipients (`--to a,b`).
    pub to: Vec<String>,
    /// The whole message, sent byte for byte (swaks runs with
    /// `--no-data-fixup`; the kit dot-stuffs and terminates it). Must not be
    /// empty. Use `\r\n` line endings.
    pub data: Vec<u8>,
    /// The `EHLO` name.
    pub ehlo: String,
    /// More swaks arguments, e.g. `["--pipeline"]`, `["--quit-after", "RCPT"]`,
    /// `["--suppress-data"]` for big messages.
    pub extra_args: Vec<String>,
}

impl SendSpec {
    /// A message from `from` to `to`, with `EHLO client.sender.test`.
    pub fn new(from: impl Into<String>, to: &[&str], data: impl Into<Vec<u8>>) -> Self {
        SendSpec {
            from: from.into(),
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            data: data.into(),
            ehlo: format!("client.{SENDER_DOMAIN}"),
            extra_args: Vec::new(),
        }
    }

    /// Add swaks arguments.
    #[must_use]
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(|s| (*s).to_owned()));
        self
    }
}

/// One reply seen in a swaks transcript, with the command it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwaksReply {
    /// The command line swaks sent last (`"RCPT TO:<a@b>"`), `"<greeting>"`
    /// for the banner, `"<end of data>"` for the reply to the final dot.
    pub command: String,
    /// The reply.
    pub reply: Reply,
    /// swaks marked it as unexpected (`<**`).
    pub flagged_error: bool,
}

/// What a swaks run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwaksResult {
    /// swaks' exit status (`0` = every step as expected; `None` = signal).
    pub exit_status: Option<i32>,
    /// Everything swaks printed (stdout, then stderr).
    pub transcript: String,
    /// Every reply, in order.
    pub replies: Vec<SwaksReply>,
    /// The reply code to the end of DATA; if the dialogue never got that far,
    /// the code of the first failing reply; `None` if there was no reply at
    /// all (connection failed).
    pub final_code: Option<u16>,
}

impl SwaksResult {
    /// Parse a transcript (exposed for tests of the parser).
    pub fn parse(exit_status: Option<i32>, transcript: String) -> Self {
        let replies = parse_transcript(&transcript);
        let final_code = replies
            .iter()
            .find(|r| r.command == END_OF_DATA)
            .or_else(|| replies.iter().find(|r| r.flagged_error))
            .map(|r| r.reply.code);
        SwaksResult {
            exit_status,
            transcript,
            replies,
            final_code,
        }
    }

    /// The reply to the end of data, if swaks got that far.
    pub fn end_of_data(&self) -> Option<&Reply> {
        self.replies
            .iter()
            .find(|r| r.command == END_OF_DATA)
            .map(|r| &r.reply)
    }

    /// The Postfix queue id from `250 … queued as QID`.
    pub fn queue_id(&self) -> Option<String> {
        self.end_of_data().and_then(Reply::queue_id)
    }

    /// The reply to the first command that starts with `prefix`
    /// (case-insensitive), e.g. `"RCPT TO:<bob@"`.
    pub fn reply_to(&self, prefix: &str) -> Option<&Reply> {
        let p = prefix.to_ascii_lowercase();
        self.replies
            .iter()
            .find(|r| r.command.to_ascii_lowercase().starts_with(&p))
            .map(|r| &r.reply)
    }
}

const END_OF_DATA: &str = "<end of data>";

fn parse_transcript(t: &str) -> Vec<SwaksReply> {
    let mut out = Vec::new();
    let mut command = String::from("<greeting>");
    let mut after_354 = false;
    let mut lines: Vec<String> = Vec::new();
    let mut flagged = false;
    for line in t.lines() {
        let trimmed = line.trim_start();
        let Some((marker, rest)) = trimmed.split_once(char::is_whitespace) else {
            continue;
        };
        let rest = rest.trim_start();
        if marker.starts_with('<') {
            // "<-", "<~", "<**", "<~*": a reply line.
            let code = rest.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else { continue };
            flagged |= marker.contains('*');
            lines.push(rest.get(4..).unwrap_or("").to_owned());
            if rest.as_bytes().get(3) != Some(&b'-') {
                let cmd = if after_354 {
                    END_OF_DATA.to_owned()
                } else {
                    command.clone()
                };
                after_354 = code == 354;
                out.push(SwaksReply {
                    command: cmd,
                    reply: Reply {
                        code,
                        lines: std::mem::take(&mut lines),
                    },
                    flagged_error: flagged,
                });
                flagged = false;
            }
        } else if marker.ends_with('>') && (marker.contains('-') || marker.contains('~')) {
            // " ->", " ~>", "*~>": a line swaks sent.
            if !after_354 {
                command = rest.to_owned();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "=== Trying 127.0.0.1:42525...
=== Connected to 127.0.0.1.
<-  220 mx1.test.example ESMTP Postfix
 -> EHLO vm
<-  250-mx1.test.example
<-  250 CHUNKING
 -> MAIL FROM:<a@sender.test>
<-  250 2.1.0 Ok
 -> RCPT TO:<nobody@nowhere.example>
<** 554 5.7.1 <nobody@nowhere.example>: Relay access denied
 -> RCPT TO:<alice@laocai.gov.vn>
<-  250 2.1.5 Ok
 -> DATA
<-  354 End data with <CR><LF>.<CR><LF>
 -> Subject: x
 -> 
 -> .
<-  250 2.0.0 Ok: queued as 7663D98E8A2
 -> QUIT
<-  221 2.0.0 Bye
=== Connection closed with remote host.
";

    #[test]
    fn parses_transcript() {
        let r = SwaksResult::parse(Some(24), T.to_owned());
        assert_eq!(r.final_code, Some(250));
        assert_eq!(r.queue_id().as_deref(), Some("7663D98E8A2"));
        assert_eq!(r.replies.len(), 8);
        assert_eq!(r.replies[1].reply.lines, ["mx1.test.example", "CHUNKING"]);
        let bad = r.reply_to("RCPT TO:<nobody").unwrap();
        assert_eq!(bad.code, 554);
        assert!(r.replies[3].flagged_error);
        assert_eq!(r.reply_to("quit").unwrap().code, 221);
    }

    #[test]
    fn first_failure_without_data() {
        let t = "<-  220 x\n -> EHLO a\n<-  250 x\n -> MAIL FROM:<a@b>\n<-  250 ok\n -> RCPT TO:<c@d>\n<** 550 5.1.1 no\n -> QUIT\n<-  221 bye\n";
        let r = SwaksResult::parse(Some(24), t.to_owned());
        assert_eq!(r.final_code, Some(550));
        assert!(r.end_of_data().is_none());
        let none = SwaksResult::parse(Some(2), "*** Error connecting\n".to_owned());
        assert_eq!(none.final_code, None);
    }
}
