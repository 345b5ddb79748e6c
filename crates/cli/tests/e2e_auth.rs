//! Authentication in the mail path, through a real Postfix and a DNS server
//! on loopback (issue #5): phishgate verifies SPF, DKIM and DMARC itself
//! from the SMTP session (the client address is set with Postfix's XCLIENT,
//! as if the mail came from outside), stamps its own Authentication-Results,
//! removes forged ones claiming its authserv-id, and:
//!
//! - mail forging the organisation's own domain from outside is held, though
//!   the domain publishes no DMARC;
//! - a lookalike domain with perfect SPF, DKIM and DMARC is still flagged;
//! - a partner's authenticated mail is delivered with the results stamped;
//! - when DNS stops answering, mail still flows, with temporary errors shown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

#[path = "../../intel/tests/common/mod.rs"]
mod authkit;

use std::net::SocketAddr;
use std::time::Duration;

use authkit::{World, LOOKALIKE_IP, OUTSIDE_IP, PARTNER_IP};
use phishgate_testkit::{Fault, Message, Postfix, SmtpClient};
use support::Server;

/// Sends one message to Postfix as if from `ip`/`helo` (XCLIENT); returns
/// the final reply code.
fn send_as(pf: &Postfix, ip: &str, helo: &str, from: &str, rcpt: &str, raw: &str) -> u16 {
    let addr: SocketAddr = format!("127.0.0.1:{}", pf.smtp_port()).parse().unwrap();
    let mut c = SmtpClient::connect(addr).unwrap();
    assert!(c.command("EHLO localhost").unwrap().is_positive());
    let x = c
        .command(&format!("XCLIENT ADDR={ip} NAME=[UNAVAILABLE] HELO={helo}"))
        .unwrap();
    assert_eq!(x.code, 220, "XCLIENT: {x}");
    assert!(c.command(&format!("EHLO {helo}")).unwrap().is_positive());
    let outcome = c
        .transaction(&Message {
            from: from.into(),
            to: vec![rcpt.into()],
            mail_params: Vec::new(),
            data: raw.as_bytes().to_vec(),
        })
        .unwrap();
    c.quit();
    outcome.final_code()
}

fn config(world: &World) -> String {
    format!(
        "[auth]\nverify = true\ntimeout_ms = 3000\n\n[dns]\nservers = [\"{}\"]\ntimeout_ms = 400\nattempts = 1\n\n\
[[dnsbl]]\nzone = \"bl.test\"\nkind = \"ip\"\ncodes = {{ \"127.0.0.2\" = \"RBL_LISTED\" }}\n\n\
[[dnsbl]]\nzone = \"dbl.test\"\nkind = \"domain\"\ndefault_symbol = \"URIBL_LISTED\"\n",
        world.server.addr()
    )
}

/// The test world's zone plus two block lists: the outside client address
/// and the lure's link domain are listed.
fn world() -> World {
    World::start(400, 1, |z| {
        z.a("66.2.0.192.bl.test", std::net::Ipv4Addr::new(127, 0, 0, 2))
            .a(
                "webmail-laocai.example.dbl.test",
                std::net::Ipv4Addr::new(127, 0, 1, 2),
            );
    })
}

fn symbols(row: &serde_json::Value) -> Vec<String> {
    row["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

const LURE_BODY: &str = "Kinh gui quy can bo,\r\nHop thu cua ban sap het dung luong. \
Vui long xac minh tai khoan tai http://webmail-laocai.example/login de tranh bi tam ngung.\r\n";

fn lure(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: vanthu@laocai.gov.vn\r\nSubject: {subject}\r\n\
Date: Mon, 6 Oct 2025 09:00:00 +0700\r\nMessage-ID: <{}@test>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{LURE_BODY}",
        subject.len()
    )
}

fn run(pf: &Postfix, server: &Server, world: &World, mode: &str) {
    // 1. The organisation's own domain, forged from outside (no DMARC published).
    let spoof = format!("spoof-{mode}@laocai.gov.vn");
    // It carries a forged stamp of ours and forged result headers.
    let raw = format!(
        "Authentication-Results: mail.laocai.gov.vn; dmarc=pass header.from=laocai.gov.vn\r\n\
X-Phishgate-Status: clean\r\n{}",
        authkit::message("Giam doc So <giamdoc@laocai.gov.vn>", "Bao cao gap")
    );
    let code = send_as(
        pf,
        OUTSIDE_IP,
        "mx.outside.example",
        "giamdoc@laocai.gov.vn",
        &spoof,
        &raw,
    );
    // Rejected in the milter session, or held.
    assert!(code == 250 || code == 550, "{code}");
    let row = server.history_row(&spoof);
    let names = symbols(&row);
    assert!(
        names.contains(&"SPF_FAIL".to_owned()) || names.contains(&"SPF_SOFTFAIL".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"OWN_DOMAIN_OUTSIDE_PATH".to_owned()),
        "{names:?}"
    );
    // The outside address is on the (test) block list.
    let rbl = row["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "RBL_LISTED")
        .unwrap_or_else(|| panic!("{row}"));
    assert!(rbl["options"].to_string().contains("bl.test"), "{rbl}");
    assert_ne!(row["action"], "accept", "{row}");
    // Released by an administrator, it arrives without the forged headers.
    // (Content-filter mode: its Postfix has the filter-free smtpd a release
    // re-injects into; the milter instance has none, so a release there
    // could only be refused by the relay. The stripping is the same code.)
    let held = if mode == "filter" {
        server.quarantine()
    } else {
        Vec::new()
    };
    if let Some(e) = held
        .iter()
        .find(|e| e["rcpts"][0]["address"] == spoof.as_str())
    {
        let id = e["id"].as_str().unwrap();
        let out = server.admin(&["quarantine", "release", id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d = wait_for(pf, &spoof);
        assert!(d.header("X-Phishgate-Released").is_some());
        assert!(
            d.header("X-Phishgate-Status").is_none(),
            "forged status kept"
        );
        let ars = d.headers("Authentication-Results").join("\n");
        assert!(
            !ars.contains("dmarc=pass header.from=laocai.gov.vn"),
            "{ars}"
        );
    } else {
        assert_eq!(mode, "milter", "content-filter mode holds it: {held:?}");
    }

    // 2. A lookalike with perfect SPF, DKIM and DMARC.
    let look = format!("look-{mode}@laocai.gov.vn");
    let raw = world.lookalike_key.sign(
        &lure("Ban CNTT <it@laocal.gov.vn>", "Xac minh tai khoan"),
        "laocal.gov.vn",
        "s1",
    );
    let code = send_as(
        pf,
        LOOKALIKE_IP,
        "mail.laocal.gov.vn",
        "it@laocal.gov.vn",
        &look,
        &raw,
    );
    assert!(code == 250 || code == 550, "{code}");
    let row = server.history_row(&look);
    let names = symbols(&row);
    for want in [
        "SPF_PASS",
        "DKIM_PASS",
        "DMARC_PASS",
        "LOOKALIKE_SENDER_DOMAIN",
        "URIBL_LISTED",
    ] {
        assert!(
            names.contains(&want.to_owned()),
            "{want} missing: {names:?}"
        );
    }
    assert_ne!(row["action"], "accept", "{row}");

    // 3. A partner's authenticated mail, carrying a forged result that
    //    claims our authserv-id: delivered with only our results.
    let ok = format!("partner-{mode}@laocai.gov.vn");
    let signed = world.partner_key.sign(
        &authkit::message("Ke toan <ketoan@partner.vn>", "Bao cao thang 9"),
        "partner.vn",
        "s1",
    );
    let raw = format!(
        "Authentication-Results: mail.laocai.gov.vn; spf=pass smtp.mailfrom=forged.example\r\n\
Authentication-Results: mx.partner.vn; spf=pass smtp.mailfrom=partner.vn\r\n{signed}"
    );
    let code = send_as(
        pf,
        PARTNER_IP,
        "mail.partner.vn",
        "ketoan@partner.vn",
        &ok,
        &raw,
    );
    assert_eq!(code, 250);
    let delivered = wait_for(pf, &ok);
    let ars: Vec<String> = delivered
        .headers("Authentication-Results")
        .into_iter()
        .collect();
    let ours: Vec<&String> = ars
        .iter()
        .filter(|v| v.trim_start().starts_with("mail.laocai.gov.vn"))
        .collect();
    assert_eq!(ours.len(), 1, "exactly our own stamp: {ars:?}");
    for want in ["spf=pass", "dkim=pass", "dmarc=pass"] {
        assert!(ours[0].contains(want), "{want} in {ours:?}");
    }
    assert!(
        !ars.iter().any(|v| v.contains("forged.example")),
        "forged stamp removed: {ars:?}"
    );
    assert!(
        ars.iter().any(|v| v.contains("mx.partner.vn")),
        "others' stamps kept: {ars:?}"
    );

    // 4. DNS stops answering: the mail is still delivered, results say temperror.
    world.server.set_fault_all(Some(Fault::Timeout));
    let late = format!("dnsdown-{mode}@laocai.gov.vn");
    // (A domain not asked before: answers already cached stay valid.)
    let raw = authkit::message("Ke toan <ketoan@hold.vn>", "Bao cao thang 10");
    let code = send_as(
        pf,
        PARTNER_IP,
        "mail.partner.vn",
        "ketoan@hold.vn",
        &late,
        &raw,
    );
    assert_eq!(code, 250);
    let delivered = wait_for(pf, &late);
    let ars = delivered.headers("Authentication-Results").join("\n");
    assert!(ars.contains("temperror"), "{ars}");
    let names = symbols(&server.history_row(&late));
    assert!(
        names.contains(&"AUTH_TEMPFAIL".to_owned()) || names.contains(&"DNS_TEMPFAIL".to_owned()),
        "{names:?}"
    );
    world.server.set_fault_all(None);
}

fn wait_for(pf: &Postfix, rcpt: &str) -> phishgate_testkit::Delivered {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let _ = pf.flush();
        if let Some(d) = pf
            .maildir("catchall")
            .into_iter()
            .find(|d| d.header("X-Original-To").as_deref() == Some(rcpt))
        {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{rcpt} not delivered\n{}",
            pf.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const XCLIENT: &str = "smtpd_authorized_xclient_hosts = 127.0.0.0/8\n";

#[test]
fn milter_mode_verifies_and_stamps() {
    let world = world();
    let (pf, server) = support::milter_pair_with("auth-milter", &config(&world), XCLIENT);
    run(&pf, &server, &world, "milter");
}

#[test]
fn content_filter_mode_verifies_and_stamps() {
    let world = world();
    let (pf, server) = support::filter_pair("auth-filter", &config(&world), XCLIENT);
    run(&pf, &server, &world, "filter");
}
