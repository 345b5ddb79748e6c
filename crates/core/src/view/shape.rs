//! The shape of a message's headers and body parts as its sender's software
//! wrote them: which mail program, whether it is a reply or list mail, its
//! priority flags, content types and character sets.
//!
//! Only headers the sender (or the sender's list server) writes are read:
//! never the receiving side's (Received, Return-Path, Delivered-To,
//! Authentication-Results, client status flags such as Status or X-UID),
//! so the shape of a message does not change with the mailbox it was
//! collected from. The learned classifier reads it as "header shape"
//! features.

/// Most character sets kept.
const MAX_CHARSETS: usize = 4;

/// Header and MIME shape facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderShape {
    /// First word of X-Mailer or User-Agent, lower case, letters only
    /// (`outlook`, `mutt`, `microsoft`); empty when neither is present.
    pub mailer: String,
    /// A List-Id, List-Post, List-Unsubscribe or X-Mailman header is present.
    pub list: bool,
    /// In-Reply-To or References is present (the message answers another).
    pub reply: bool,
    /// First digit of X-Priority (`1` = highest), or empty.
    pub priority: String,
    /// X-MSMail-Priority is present.
    pub msmail_priority: bool,
    /// Precedence value (`bulk`, `list`, `junk`), lower case, or empty.
    pub precedence: String,
    /// Organization header present.
    pub organization: bool,
    /// Message-ID missing, or its domain part has no dot.
    pub odd_message_id: bool,
    /// Top-level content type, lower case (`text/plain`, `multipart/alternative`).
    pub content_type: String,
    /// Character sets of the text parts, lower case, unique, bounded.
    pub charsets: Vec<String>,
    /// The body has a plain-text part.
    pub has_plain: bool,
    /// The body has an HTML part.
    pub has_html: bool,
}

impl HeaderShape {
    /// Reads one top-level header.
    pub(super) fn header(&mut self, name: &str, value: &str) {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if (is("X-Mailer") || is("User-Agent")) && self.mailer.is_empty() {
            self.mailer = value
                .trim()
                .chars()
                .take_while(|c| c.is_alphabetic())
                .take(24)
                .flat_map(char::to_lowercase)
                .collect();
        } else if is("List-Id")
            || is("List-Post")
            || is("List-Unsubscribe")
            || is("X-Mailman-Version")
        {
            self.list = true;
        } else if is("In-Reply-To") || is("References") {
            self.reply = true;
        } else if is("X-Priority") {
            self.priority = value
                .trim()
                .chars()
                .find(char::is_ascii_digit)
                .map(String::from)
                .unwrap_or_default();
        } else if is("X-MSMail-Priority") {
            self.msmail_priority = true;
        } else if is("Precedence") {
            self.precedence = value
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .take(12)
                .collect::<String>()
                .to_ascii_lowercase();
        } else if is("Organization") {
            self.organization = true;
        }
    }

    /// The body has HTML but no plain-text part.
    pub fn html_only(&self) -> bool {
        self.has_html && !self.has_plain
    }

    /// Records the Message-ID (already parsed) of the message.
    pub(super) fn message_id(&mut self, id: Option<&str>) {
        self.odd_message_id = match id {
            None => true,
            Some(id) => !id.rsplit_once('@').is_some_and(|(_, d)| d.contains('.')),
        };
    }

    /// Records one body text part's character set.
    pub(super) fn charset(&mut self, charset: &str) {
        let c: String = charset
            .trim()
            .chars()
            .take(24)
            .flat_map(char::to_lowercase)
            .collect();
        if !c.is_empty() && self.charsets.len() < MAX_CHARSETS && !self.charsets.contains(&c) {
            self.charsets.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sender_headers() {
        let mut s = HeaderShape::default();
        s.header("x-mailer", "Microsoft Outlook Express 6.00.2600");
        s.header("User-Agent", "Mutt/1.4");
        s.header("X-Priority", " 3 (Normal)");
        s.header("PRECEDENCE", "bulk\r\n");
        s.header("In-Reply-To", "<a@b.c>");
        s.charset("ISO-8859-1");
        s.charset("iso-8859-1");
        s.message_id(Some("abc@localhost"));
        assert_eq!(s.mailer, "microsoft");
        assert_eq!(s.priority, "3");
        assert_eq!(s.precedence, "bulk");
        assert!(s.reply && !s.list);
        assert_eq!(s.charsets, vec!["iso-8859-1"]);
        assert!(s.odd_message_id);
        s.message_id(Some("x.y@mail.example.org"));
        assert!(!s.odd_message_id);
    }
}
