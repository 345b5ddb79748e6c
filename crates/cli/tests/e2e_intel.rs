//! Threat feeds and ClamAV in the mail path, through a real Postfix and a
//! real clamd with a locally written signature database (issue #5):
//!
//! - an attachment clamd knows is held, the virus name as evidence;
//! - a link the IT centre adds to its feed file is caught on the next
//!   message, without a restart (the file is reloaded when it changes);
//! - `phishgate scan` of the saved message gives the gateway's verdict;
//! - with clamd stopped, mail still flows and the scan says it could not
//!   check the attachment (`CLAMAV_TEMPFAIL`), never "clean".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use phishgate_testkit::{eicar, Clamd, Postfix, SendSpec, EICAR_FOUND};
use support::Server;

const LINK: &str = "https://tailieu-chiase.example/d/8812";

fn b64(data: &[u8]) -> String {
    phishgate_testkit::base64_mime(data)
}

/// An ordinary-looking message with one attachment.
fn with_attachment(subject: &str, name: &str, content: &[u8]) -> String {
    format!(
        "From: Phong Ke toan <ketoan@doitac.example>\r\nTo: vanthu@laocai.gov.vn\r\n\
Subject: {subject}\r\nDate: Mon, 6 Oct 2025 09:00:00 +0700\r\nMessage-ID: <{}@doitac.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGui anh chi tai lieu dinh kem.\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
{}\r\n--b1--\r\n",
        subject.len(),
        b64(content)
    )
}

/// An ordinary-looking message with one link.
fn with_link(subject: &str) -> String {
    format!(
        "From: Phong Ke toan <ketoan@doitac.example>\r\nTo: vanthu@laocai.gov.vn\r\n\
Subject: {subject}\r\nDate: Mon, 6 Oct 2025 09:00:00 +0700\r\nMessage-ID: <{}-l@doitac.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Tai lieu hop tuan nay: {LINK}\r\n",
        subject.len()
    )
}

fn send(pf: &Postfix, rcpt: &str, raw: &str) {
    let out = pf
        .send_swaks(&SendSpec::new("ketoan@doitac.example", &[rcpt], raw))
        .unwrap();
    let code = out.final_code.unwrap_or(0);
    assert!(code == 250 || code == 550, "{}", out.transcript);
}

fn symbol<'a>(row: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    row["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

fn write_feed(path: &Path, urls: &[&str]) {
    // As the module documents: write a temporary file, rename it over.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, urls.join("\n") + "\n").unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config(clamd: &Clamd, feed: &Path) -> String {
    format!(
        "[clamav]\naddress = \"{}\"\ntimeout_ms = 2000\n\n[feeds]\ncheck_interval_secs = 1\n\n\
[[feeds.source]]\nname = \"so-tt-advisory\"\npath = \"{}\"\nformat = \"urls\"\n",
        clamd.tcp_address(),
        feed.display()
    )
}

fn run(pf: &Postfix, server: &Server, clamd: &mut Clamd, feed: &Path, mode: &str) {
    // 1. An attachment clamd knows.
    let infected = format!("virus-{mode}@laocai.gov.vn");
    let raw = with_attachment("Hoa don thang 10", "hoadon.com", &eicar());
    send(pf, &infected, &raw);
    let row = server.history_row(&infected);
    let virus = symbol(&row, "CLAMAV_VIRUS").unwrap_or_else(|| panic!("{row}"));
    let evidence = virus["options"].to_string();
    assert!(
        evidence.contains(EICAR_FOUND) && evidence.contains("hoadon.com"),
        "{evidence}"
    );
    assert_ne!(row["action"], "accept", "{row}");

    // The same message scanned from a file by an analyst: the same verdict.
    let saved = server.dir.join(format!("saved-{mode}.eml"));
    std::fs::write(&saved, &raw).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .args(["scan", "--format", "json", "--config"])
        .arg(&server.config)
        .arg(&saved)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let scanned: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(
        scanned["action"], row["action"],
        "scan: {scanned}\ngateway: {row}"
    );
    assert!(
        scanned["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "CLAMAV_VIRUS"),
        "{scanned}"
    );

    // 2. A link not (yet) in the feed, then added by the IT centre.
    let before = format!("link-before-{mode}@laocai.gov.vn");
    send(pf, &before, &with_link("Tai lieu hop"));
    let row = server.history_row(&before);
    assert!(symbol(&row, "FEED_URL").is_none(), "{row}");
    write_feed(feed, &["https://old-campaign.example/login", LINK]);
    std::thread::sleep(Duration::from_millis(2500));
    let after = format!("link-after-{mode}@laocai.gov.vn");
    send(pf, &after, &with_link("Tai lieu hop (2)"));
    let row = server.history_row(&after);
    let hit = symbol(&row, "FEED_URL").unwrap_or_else(|| panic!("feed not reloaded: {row}"));
    assert!(
        hit["options"].to_string().contains("so-tt-advisory"),
        "{hit}"
    );
    assert_ne!(row["action"], "accept", "{row}");

    // 3. clamd stops: mail flows, the attachment is reported unchecked.
    clamd.stop();
    let down = format!("clamd-down-{mode}@laocai.gov.vn");
    send(
        pf,
        &down,
        &with_attachment("Hoa don thang 11", "hoadon11.pdf", b"%PDF-1.4 harmless"),
    );
    let row = server.history_row(&down);
    assert!(symbol(&row, "CLAMAV_TEMPFAIL").is_some(), "{row}");
    assert!(symbol(&row, "CLAMAV_VIRUS").is_none(), "{row}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pf
        .maildir("catchall")
        .iter()
        .any(|d| d.header("X-Original-To").as_deref() == Some(down.as_str()))
    {
        let _ = pf.flush();
        assert!(
            Instant::now() < deadline,
            "not delivered with clamd down\n{}",
            pf.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn milter_mode_feeds_and_clamav() {
    let mut clamd = Clamd::start().unwrap();
    let dir = support::scratch("intel-milter-feed");
    let feed = dir.join("advisory-urls.txt");
    write_feed(&feed, &["https://old-campaign.example/login"]);
    let (pf, server) = support::milter_pair("intel-milter", &config(&clamd, &feed));
    run(&pf, &server, &mut clamd, &feed, "milter");
}

#[test]
fn content_filter_mode_feeds_and_clamav() {
    let mut clamd = Clamd::start().unwrap();
    let dir = support::scratch("intel-filter-feed");
    let feed = dir.join("advisory-urls.txt");
    write_feed(&feed, &["https://old-campaign.example/login"]);
    let (pf, server) = support::filter_pair("intel-filter", &config(&clamd, &feed), "");
    run(&pf, &server, &mut clamd, &feed, "filter");
}

/// `[gateway] tempfail_on`: a site that will not deliver attachments it
/// could not scan defers them (451, the sender retries) while clamd is
/// down; mail without attachments flows; `/checkv2` says "soft reject".
#[test]
fn tempfail_on_defers_unscanned_attachments() {
    let sink = phishgate_testkit::SmtpSink::accept_all().unwrap();
    let down = phishgate_testkit::unused_port().unwrap();
    let s = Server::start(
        "intel-defer",
        Some(sink.addr()),
        &format!(
            "[clamav]\naddress = \"127.0.0.1:{down}\"\ntimeout_ms = 1000\n\n[gateway]\ntempfail_on = [\"CLAMAV_TEMPFAIL\"]\n"
        ),
    );
    let send = |raw: &str| {
        let msg = phishgate_testkit::Message {
            from: "ketoan@doitac.example".into(),
            to: vec!["vanthu@laocai.gov.vn".into()],
            mail_params: Vec::new(),
            data: raw.as_bytes().to_vec(),
        };
        let o = phishgate_testkit::send_raw_smtp(s.smtp, "client.test", &[msg]).unwrap();
        let last = o[0].end_of_data.clone().unwrap();
        (last.code, last.text())
    };
    let (code, text) = send(&with_attachment("Hoa don", "hoadon.pdf", b"%PDF-1.4 x"));
    assert_eq!(code, 451, "{text}");
    assert!(text.contains("CLAMAV_TEMPFAIL"), "{text}");
    let (code, text) = send(&with_link("Lich hop"));
    assert_eq!(code, 250, "{text}");
    let v = s.post_json(
        "/checkv2",
        &[("Rcpt", "vanthu@laocai.gov.vn")],
        with_attachment("Hoa don", "hoadon.pdf", b"%PDF-1.4 x").as_bytes(),
    );
    assert_eq!(v["action"], "soft reject", "{v}");
}
