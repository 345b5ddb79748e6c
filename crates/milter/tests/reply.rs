//! ReplyText validation, case by case from reference §8.

use phishgate_milter::{ReplyError, ReplyText};

#[test]
fn valid_forms() {
    let r = ReplyText::new(550, Some("5.7.1"), &["bad sender"]).unwrap();
    assert_eq!(r.to_wire(), "550 5.7.1 bad sender");
    assert_eq!(
        (r.code(), r.enhanced(), r.lines()),
        (550, "5.7.1", &["bad sender".to_owned()][..])
    );
    // Multi-line: '-' and CRLF on all but the last; no trailing CRLF.
    let r = ReplyText::new(451, Some("4.7.1"), &["first line", "second line"]).unwrap();
    assert_eq!(r.to_wire(), "451-4.7.1 first line\r\n451 4.7.1 second line");
    // Default enhanced code follows the class.
    assert_eq!(
        ReplyText::new(421, None, &["bye"]).unwrap().to_wire(),
        "421 4.0.0 bye"
    );
    assert_eq!(
        ReplyText::new(554, None, &["no"]).unwrap().enhanced(),
        "5.0.0"
    );
    assert_eq!(
        ReplyText::new(500, None, &["x"]).unwrap().enhanced(),
        "5.0.0"
    );
    assert_eq!(
        ReplyText::new(499, None, &["x"]).unwrap().enhanced(),
        "4.0.0"
    );
    assert_eq!(
        ReplyText::new(400, Some("4.0.0"), &["x"]).unwrap().code(),
        400
    );
    // % is doubled (Sendmail printf; Postfix undoes it).
    assert_eq!(
        ReplyText::new(550, None, &["100% bob%%is"])
            .unwrap()
            .to_wire(),
        "550 5.0.0 100%% bob%%%%is"
    );
    // 3-digit subject and detail; empty text; no lines.
    assert!(ReplyText::new(550, Some("5.123.999"), &["x"]).is_ok());
    assert_eq!(
        ReplyText::new(550, Some("5.7.1"), &[""]).unwrap().to_wire(),
        "550 5.7.1"
    );
    assert_eq!(
        ReplyText::new(550, Some("5.7.1"), &[]).unwrap().to_wire(),
        "550 5.7.1"
    );
    // Limits are inclusive: 32 lines, 980 bytes (before doubling).
    let line = "x".repeat(980);
    let lines: Vec<&str> = std::iter::repeat_n(line.as_str(), 32).collect();
    assert!(ReplyText::new(451, None, &lines).is_ok());
    assert!(ReplyText::new(451, None, &["a\tb"]).is_ok());
}

#[test]
fn invalid_forms() {
    use ReplyError::*;
    assert_eq!(
        ReplyText::new(250, None, &["ok"]),
        Err(BadCode(250)),
        "2xx never allowed"
    );
    assert_eq!(ReplyText::new(354, None, &["go"]), Err(BadCode(354)));
    assert_eq!(ReplyText::new(600, None, &["x"]), Err(BadCode(600)));
    assert_eq!(ReplyText::new(55, None, &["x"]), Err(BadCode(55)));
    assert_eq!(
        ReplyText::new(550, Some("4.7.1"), &["x"]),
        Err(ClassMismatch {
            code: 550,
            enhanced: "4.7.1".into()
        }),
        "Postfix: class must equal the first digit"
    );
    assert_eq!(
        ReplyText::new(450, Some("2.0.0"), &["x"]),
        Err(ClassMismatch {
            code: 450,
            enhanced: "2.0.0".into()
        })
    );
    for bad in [
        "5.7", "5.7.1.1", "55.7.1", "5.1234.1", "5..1", "x.7.1", "5.7.1 ", "",
    ] {
        assert_eq!(
            ReplyText::new(550, Some(bad), &["x"]),
            Err(BadEnhanced(bad.into())),
            "{bad:?}"
        );
    }
    let line = "x".repeat(981);
    assert_eq!(
        ReplyText::new(550, None, &[&line]),
        Err(LineTooLong { line: 0, len: 981 })
    );
    let lines = vec!["x"; 33];
    assert_eq!(ReplyText::new(550, None, &lines), Err(TooManyLines(33)));
    for bad in ["a\r\nb", "a\nb", "a\rb", "nul\0", "bell\x07", "caf\u{e9}"] {
        assert_eq!(
            ReplyText::new(550, None, &["ok", bad]),
            Err(BadChar(1)),
            "{bad:?}"
        );
    }
}

#[test]
fn parse_round_trips_and_is_strict() {
    for r in [
        ReplyText::new(550, Some("5.7.1"), &["a 50% b"]).unwrap(),
        ReplyText::new(451, Some("4.7.1"), &["one", "", "three"]).unwrap(),
        ReplyText::new(550, Some("5.7.1"), &[""]).unwrap(),
    ] {
        assert_eq!(ReplyText::parse(&r.to_wire()), Ok(r.clone()));
    }
    assert_eq!(
        ReplyText::parse("550 denied").unwrap(),
        ReplyText::new(550, None, &["denied"]).unwrap(),
        "missing enhanced code becomes the default"
    );
    for bad in [
        "",
        "55",
        "550-5.7.1 a",                // last line must use a space
        "550 5.7.1 a\r\n550 5.7.1 b", // non-last line must use '-'
        "550-5.7.1 a\r\n551 5.7.1 b", // same code on every line
        "550-5.7.1 a\r\n550 5.7.2 b", // same enhanced code
        "550 5.7.1 50%",              // single %
        "250 2.0.0 ok",
        "550 5.7.1 a\r\n",
    ] {
        assert!(ReplyText::parse(bad).is_err(), "{bad:?}");
    }
}
