//! Users' reports through a real Postfix, wired as the README says
//! (`deploy/postfix/report.master.cf` and `report.main.cf`): mail to the
//! report address is piped to `phishgate report add`, run by Postfix's
//! pipe(8) as an unprivileged user. A report forwarded as an attachment is
//! stored about the attached message; while the store cannot be opened the
//! report stays queued (exit 75) and is stored on the retry, never lost;
//! other mail is delivered as usual.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use phishgate_testkit::{Message, PostfixBuilder};
use support::{deploy, repo, Server};

const REPORT_ADDRESS: &str = "baocao@laocai.gov.vn";

fn report_of(lure: &[u8], subject: &str) -> Vec<u8> {
    let inner = String::from_utf8_lossy(lure).replace("\r\n", "\n");
    format!(
        "From: nhanvien@laocai.gov.vn\nTo: {REPORT_ADDRESS}\nSubject: {subject}\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\
         Content-Type: text/plain; charset=utf-8\n\nNho kiem tra giup em.\n--zz\n\
         Content-Type: message/rfc822\n\n{inner}\n--zz--\n"
    )
    .into_bytes()
}

fn reports(server: &Server) -> Vec<serde_json::Value> {
    server.admin_json_lines(&["report", "list", "--format", "json"])
}

#[test]
fn reports_reach_the_store_through_the_readme_pipe() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for f in ["report.master.cf", "report.main.cf"] {
        assert!(
            readme.contains(deploy(f).trim_end()),
            "README does not contain deploy/postfix/{f} verbatim"
        );
    }

    // phishgate's configuration and data directory, as an installation
    // would have them; the pipe runs as `nobody` here (`phishgate` there).
    let mut server = Server::prepare("report-pipe");
    server.configure(None, "");
    let data = server.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&server.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&server.config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let master_cf = deploy("report.master.cf")
        .replace("user=phishgate", "user=nobody")
        .replace("/usr/local/bin/phishgate", env!("CARGO_BIN_EXE_phishgate"))
        .replace(
            "/etc/phishgate/phishgate.toml",
            server.config.to_str().unwrap(),
        )
        .replace("/var/lib/phishgate", data.to_str().unwrap());
    let pf = PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .catch_all(true)
        .main_cf(&deploy("report.main.cf"))
        .master_cf(&master_cf)
        .start()
        .unwrap();

    let lure = std::fs::read(repo().join("corpus/phish/vi/06-mat-khau-het-han.eml")).unwrap();
    let send = |to: &str, data: Vec<u8>| {
        let out = pf
            .send_raw(&[Message {
                from: "nhanvien@laocai.gov.vn".into(),
                to: vec![to.into()],
                mail_params: Vec::new(),
                data,
            }])
            .unwrap();
        assert_eq!(out[0].final_code(), 250, "{:?}", out[0]);
    };

    // 1. A report forwarded as an attachment, and an ordinary message.
    send(REPORT_ADDRESS, report_of(&lure, "Fw: thu nghi lua dao"));
    send(
        "dongnghiep@laocai.gov.vn",
        b"From: nhanvien@laocai.gov.vn\nTo: dongnghiep@laocai.gov.vn\nSubject: Lich hop\n\nHop luc 9h.\n"
            .to_vec(),
    );
    pf.wait_until_queue_empty(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", pf.diagnostics()));
    let got = reports(&server);
    assert_eq!(got.len(), 1, "{got:?}\n{}", pf.diagnostics());
    assert_eq!(got[0]["reporter"], "nhanvien@laocai.gov.vn");
    assert_eq!(got[0]["status"], "new");
    assert_ne!(
        got[0]["sender"], "nhanvien@laocai.gov.vn",
        "the report is about the attached message: {}",
        got[0]
    );
    assert!(
        got[0]["verdict_action"]
            .as_str()
            .is_some_and(|a| a != "accept"),
        "the lure is judged: {}",
        got[0]
    );
    let delivered = support::delivered_rcpts(&pf);
    assert_eq!(delivered, vec!["dongnghiep@laocai.gov.vn".to_string()]);

    // 2. The configuration cannot be read (an administrator's mistake):
    //    `report add` exits 75, Postfix keeps the report queued.
    std::fs::set_permissions(&server.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let second =
        std::fs::read(repo().join("corpus/phish/vi/01-xac-minh-tai-khoan-webmail.eml")).unwrap();
    send(REPORT_ADDRESS, report_of(&second, "Fw: lai mot thu nua"));
    let queued = pf
        .wait_for_queue("a deferred report", Duration::from_secs(60), |q| {
            q.iter().any(|e| e.reason().is_some())
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", pf.diagnostics()));
    let reason = queued[0].reason().unwrap().to_string();
    assert!(
        reason.contains("the report stays queued"),
        "phishgate's own temporary failure, not another error: {reason}"
    );
    assert_eq!(reports(&server).len(), 1);

    // 3. Fixed: the retry stores it.
    std::fs::set_permissions(&server.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    pf.flush().unwrap();
    pf.wait_until_queue_empty(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", pf.diagnostics()));
    let got = reports(&server);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        support::delivered_rcpts(&pf).len(),
        1,
        "no report went to a mailbox"
    );
}
