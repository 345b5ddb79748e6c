//! Header hygiene for edits (`normalize_header_value`) and the rebuilt
//! message (`Message::raw_message`).

use phishgate_milter::{normalize_header_value as norm, valid_header_name, Header, Message};

#[test]
fn leading_space_policy() {
    // Without HDR_LEADSPC the MTA adds the space: send none.
    assert_eq!(norm("Subject", "  changed", false), "changed");
    assert_eq!(norm("Subject", "\tchanged", false), "changed");
    // With it, the MTA adds nothing: send exactly one.
    assert_eq!(norm("Subject", "changed", true), " changed");
    assert_eq!(norm("Subject", "   changed", true), " changed");
}

#[test]
fn line_breaks_become_lf_folds_and_cannot_inject() {
    assert_eq!(norm("X", "a\r\n\tb", false), "a\n\tb");
    assert_eq!(norm("X", "a\r\n b\rc", false), "a\n b\n c");
    // A newline followed by text would start a new header: it gets a space.
    assert_eq!(
        norm("X", "ok\r\nBcc: victim@example", false),
        "ok\n Bcc: victim@example"
    );
    // An empty line would end the header block: dropped.
    assert_eq!(norm("X", "a\n\n\r\nb", false), "a\n b");
    assert_eq!(norm("X", "a  \n  \n", false), "a");
    assert_eq!(norm("X", "\n\tfirst", false), "first");
    assert_eq!(norm("X", "a\0b", false), "ab");
    assert!(!norm("X", "x\ry\r\n", true).contains('\r'));
}

#[test]
fn long_lines_fold_at_whitespace() {
    let words: Vec<String> = (0..400).map(|i| format!("w{i:03}")).collect();
    let v = norm("X-Long", &words.join(" "), false);
    let lines: Vec<&str> = v.split('\n').collect();
    assert!(lines.len() > 1);
    assert!("X-Long: ".len() + lines[0].len() <= 998);
    for l in &lines[1..] {
        assert!(l.len() <= 998 && l.starts_with(' '), "{l:?}");
    }
    assert_eq!(
        v.replace('\n', ""),
        words.join(" "),
        "folding only inserts LFs"
    );
    // No whitespace: left as is (finish() then refuses it if over 2047).
    let solid = "x".repeat(1500);
    assert_eq!(norm("X", &solid, false), solid);
}

#[test]
fn header_names() {
    assert!(valid_header_name("X-Phishgate-Score"));
    for bad in ["", "A B", "A:B", "A\tB", "Ä", "A\nB"] {
        assert!(!valid_header_name(bad), "{bad:?}");
    }
}

#[test]
fn raw_message_rebuilds_crlf() {
    let m = Message {
        headers: vec![
            Header {
                name: "Subject".into(),
                value: b"hi".to_vec(),
            },
            Header {
                name: "X-Folded".into(),
                value: b"part1\n\tpart2".to_vec(),
            },
            Header {
                name: "X-Crlf".into(),
                value: b"a\r\n b".to_vec(),
            },
        ],
        body: b"body\r\n".to_vec(),
        ..Message::default()
    };
    assert_eq!(
        m.raw_message(),
        b"Subject: hi\r\nX-Folded: part1\r\n\tpart2\r\nX-Crlf: a\r\n b\r\n\r\nbody\r\n"
    );
    let m = Message {
        leading_space: true,
        headers: vec![Header {
            name: "To".into(),
            value: b"\ttab".to_vec(),
        }],
        ..Message::default()
    };
    assert_eq!(m.raw_message(), b"To:\ttab\r\n\r\n");
}
