//! The HTTP API, called in-process (`oneshot`, no socket) and with the real
//! `rspamc` client from Debian's `rspamd` package over loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use phishgate_core::Config;
use phishgate_gateway::http::{router, ApiState};
use phishgate_gateway::scanner::{Loaded, Scanner};
use serde_json::Value;
use tower::ServiceExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn state(extra: &str) -> ApiState {
    let text = std::fs::read_to_string(repo().join("corpus/phishgate.toml")).unwrap();
    let config = Config::from_toml_str(&format!("{text}\n{extra}")).unwrap();
    let scanner = Arc::new(Scanner::new(Loaded::from_config(config, None).unwrap(), 2));
    ApiState::new(scanner, 8)
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(repo().join("corpus").join(rel)).unwrap()
}

async fn call(st: &ApiState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body.to_vec())
}

async fn json(st: &ApiState, req: Request<Body>) -> (StatusCode, Value) {
    let (s, b) = call(st, req).await;
    (
        s,
        serde_json::from_slice(&b)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&b))),
    )
}

const LURE: &str = "phish/vi/01-xac-minh-tai-khoan-webmail.eml";

fn legit() -> String {
    let dir = repo().join("corpus/legit/vi");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    format!("legit/vi/{}", names[0])
}

#[tokio::test]
async fn ping_and_metrics() {
    let st = state("");
    let (s, b) = call(&st, Request::get("/ping").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, b"pong\r\n");
    let req = Request::post("/checkv2")
        .body(Body::from(fixture(LURE)))
        .unwrap();
    let (s, _) = call(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = call(&st, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(b).unwrap();
    assert!(
        text.contains("phishgate_messages_total{interface=\"http\",action=\"reject\"} 1"),
        "{text}"
    );
    assert!(text.contains("phishgate_scan_duration_seconds_count 1"));
}

#[tokio::test]
async fn checkv2_speaks_rspamd() {
    let st = state("");
    let req = Request::post("/checkv2")
        .header("From", "bqt@gmail.com")
        .header("Rcpt", "a@laocai.gov.vn, b@laocai.gov.vn")
        .header("Rcpt", "c@laocai.gov.vn")
        .header("IP", "203.0.113.7")
        .header("Helo", "mx.example.net")
        .header("Queue-ID", "4ABC123")
        .body(Body::from(fixture(LURE)))
        .unwrap();
    let (s, v) = json(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["action"], "reject");
    assert_eq!(v["required_score"], 15.0);
    assert!(v["score"].as_f64().unwrap() >= 15.0);
    let sym = &v["symbols"]["LURE_VERIFY_ACCOUNT"];
    assert_eq!(sym["name"], "LURE_VERIFY_ACCOUNT");
    assert!(sym["score"].as_f64().unwrap() > 0.0);
    assert!(!sym["description"].as_str().unwrap().is_empty());
    assert!(sym["options"].as_array().is_some());
    assert_eq!(v["thresholds"]["reject"], 15.0);
    assert!(v["milter"]["add_headers"]["X-Phishgate-Action"]["value"] == "reject");
    assert!(v["milter"]["remove_headers"]["X-Phishgate-Score"] == 0);

    let req = Request::post("/checkv2")
        .body(Body::from(fixture(&legit())))
        .unwrap();
    let (_, v) = json(&st, req).await;
    assert_eq!(v["action"], "no action", "{v}");
}

#[tokio::test]
async fn checkv2_warn_rewrites_subject() {
    // Thresholds moved so the lure lands on warn.
    let st = state("[actions]\nwarn = 1.0\nquarantine = 900.0\nreject = 1000.0\n");
    let req = Request::post("/checkv2?lang=en")
        .body(Body::from(fixture(LURE)))
        .unwrap();
    let (_, v) = json(&st, req).await;
    assert_eq!(v["action"], "rewrite subject", "{v}");
    // Encoded like Rspamd's (clients write it into the header as is): no
    // raw line breaks, decodes to the tagged subject.
    let encoded = v["subject"].as_str().unwrap();
    assert!(
        !encoded.contains('\r') && !encoded.contains('\n'),
        "{encoded}"
    );
    let probe = format!("Subject: {encoded}\r\n\r\nx\r\n");
    let decoded = mail_parser::MessageParser::default()
        .parse(probe.as_bytes())
        .unwrap();
    assert!(
        decoded.subject().unwrap().starts_with("[CẢNH BÁO] "),
        "{encoded}"
    );
    assert_eq!(v["thresholds"]["rewrite subject"], 1.0);
    let st = state("[gateway]\nsubject_tag = \"\"\n[actions]\nwarn = 1.0\nquarantine = 900.0\nreject = 1000.0\n");
    let req = Request::post("/checkv2")
        .body(Body::from(fixture(LURE)))
        .unwrap();
    let (_, v) = json(&st, req).await;
    assert_eq!(v["action"], "add header", "{v}");
}

#[tokio::test]
async fn api_scan_raw_and_json() {
    let st = state("");
    let req = Request::post("/api/v1/scan?lang=en")
        .header("Rcpt", "a@laocai.gov.vn")
        .body(Body::from(fixture(LURE)))
        .unwrap();
    let (s, v) = json(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "scanned");
    assert_eq!(v["action"], "reject");
    assert!(v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "LURE_VERIFY_ACCOUNT"));
    assert!(v["subject"].as_str().is_some());

    let body = serde_json::json!({
        "message": String::from_utf8_lossy(&fixture(LURE)),
        "envelope": {"mail_from": "x@gmail.com", "rcpt_to": ["a@laocai.gov.vn"], "client_ip": "203.0.113.7"},
        "lang": "vi"
    });
    let req = Request::post("/api/v1/scan")
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, v) = json(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["action"], "reject");
}

#[tokio::test]
async fn malformed_requests_get_4xx_json() {
    let st = state("[gateway]\nmax_message_bytes = 4096\n");
    let cases = [
        (
            Request::post("/checkv2").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::get("/checkv2").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Request::post("/checkv2")
                .body(Body::from(vec![b'a'; 10_000]))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Request::post("/api/v1/scan")
                .header("Content-Type", "application/json")
                .body(Body::from("{\"mesage\": 1}"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::get("/nothing").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (req, want) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, v) = json(&st, req).await;
        assert_eq!(s, want, "{what}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {v}"
        );
    }
    // A non-UTF-8 or UTF-8 header value (SMTPUTF8 recipient) is not a reason
    // to refuse the request.
    let req = Request::post("/checkv2")
        .header("Rcpt", "người.dùng@laocai.gov.vn")
        .header("User-Agent", &b"r\xe9"[..])
        .body(Body::from(
            "From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n",
        ))
        .unwrap();
    let (s, v) = json(&st, req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Binary garbage is still a message to scan, not an error.
    let req = Request::post("/checkv2")
        .body(Body::from(vec![0u8, 159, 146, 150, 10, 13]))
        .unwrap();
    let (s, v) = json(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["action"].as_str().is_some());
}

/// The real `rspamc` (Debian's rspamd package) against `/checkv2` on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rspamc_client_against_checkv2() {
    assert!(
        std::path::Path::new("/usr/bin/rspamc").exists(),
        "rspamc is missing: install Debian's rspamd package (./scripts/test does)"
    );
    let st = state("");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(st)).await.unwrap() });
    let lure = repo().join("corpus").join(LURE);
    let ham = repo().join("corpus").join(legit());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("rspamc")
            .args([
                "-h",
                &addr.to_string(),
                "-t",
                "20",
                "-F",
                "bqt@gmail.com",
                "-r",
                "a@laocai.gov.vn",
            ])
            .args(["-i", "203.0.113.7", "-j", "symbols"])
            .arg(&lure)
            .arg(&ham)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rspamc failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // rspamc -j prints one JSON object per file.
    let mut actions = Vec::new();
    let de = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>();
    for v in de {
        let v = v.unwrap();
        actions.push(v["action"].as_str().unwrap().to_string());
        assert!(v["symbols"].is_object());
    }
    // rspamc prints the replies in the order they finish.
    actions.sort();
    assert_eq!(actions, vec!["no action", "reject"], "{stdout}");

    // The plain-text output names the action and the symbols.
    let lure = repo().join("corpus").join(LURE);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("rspamc")
            .args(["-h", &addr.to_string(), "-t", "20", "symbols"])
            .arg(&lure)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Action: reject"), "{text}");
    assert!(text.contains("Symbol: LURE_VERIFY_ACCOUNT"), "{text}");
}

#[tokio::test]
async fn checkv2_body_block_returns_the_bannered_message() {
    let st = state("[actions]\nwarn = 1.0\nquarantine = 900.0\nreject = 1000.0\n");
    let mut raw = b"X-Phishgate-Action: accept\r\n".to_vec();
    raw.extend_from_slice(&fixture(LURE));
    let req = Request::post("/checkv2")
        .header("Flags", "body_block")
        .body(Body::from(raw.clone()))
        .unwrap();
    let resp = router(st).oneshot(req).await.unwrap();
    let offset: usize = resp.headers()["message-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body[..offset]).unwrap();
    assert_eq!(v["action"], "rewrite subject");
    let msg = String::from_utf8_lossy(&body[offset..]).into_owned();
    assert!(msg.starts_with("X-Phishgate-Status: scanned\n"), "{msg}"); // LF in, LF out
    assert_eq!(
        msg.matches("X-Phishgate-Action:").count(),
        1,
        "forged header removed"
    );
    assert!(msg.contains("X-Phishgate-Action: warn"));
    assert!(msg.contains("Subject: =?"), "tagged subject is encoded");
    let parsed = mail_parser::MessageParser::default()
        .parse(msg.as_bytes())
        .unwrap();
    assert!(parsed.subject().unwrap().starts_with("[CẢNH BÁO] "));
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("Thư này có dấu hiệu lừa đảo"), "{text}");
}

/// With `Flags: milter,body_block` (rspamd_proxy) only the new body follows
/// the JSON, and the header changes it needs are in the `milter` block.
#[tokio::test]
async fn checkv2_milter_body_block_returns_the_body_only() {
    let st = state("[actions]\nwarn = 1.0\nquarantine = 900.0\nreject = 1000.0\n");
    let raw = b"From: it@laocai-support.top\r\nTo: a@laocai.gov.vn\r\nSubject: Xac minh tai khoan\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\nVui long xac minh tai khoan email tai http://laocai-support.top/login ngay.\r\n";
    let req = Request::post("/checkv2")
        .header("Flags", "milter,body_block")
        .body(Body::from(raw.to_vec()))
        .unwrap();
    let resp = router(st).oneshot(req).await.unwrap();
    let offset: usize = resp.headers()["message-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body[..offset]).unwrap();
    let new_body = String::from_utf8_lossy(&body[offset..]).into_owned();
    assert!(!new_body.contains("Subject:"), "body only:\n{new_body}");
    // The single text part was re-encoded as UTF-8: the milter block says so.
    let ct = v["milter"]["add_headers"]["Content-Type"]["value"]
        .as_str()
        .unwrap();
    assert!(ct.to_ascii_lowercase().contains("utf-8"), "{v}");
    assert_eq!(v["milter"]["remove_headers"]["Content-Type"], 0);
}

/// With `[auth] verify`, a header claiming our authserv-id is never believed,
/// even when nothing could be verified (no `IP` given); an authenticated
/// submission (`User`) is the organisation's own path, not a spoof.
#[tokio::test]
async fn forged_results_are_not_believed_and_submission_is_own_path() {
    // A DNS server that is not there: nothing can be verified.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let st = state(&format!(
        "[auth]\nverify = true\ntimeout_ms = 500\n[dns]\nservers = [\"{dead}\"]\ntimeout_ms = 200\nattempts = 1\n"
    ));
    let forged =
        "Authentication-Results: mail.laocai.gov.vn; spf=pass smtp.mailfrom=laocai.gov.vn; \
dkim=pass header.d=laocai.gov.vn; dmarc=pass header.from=laocai.gov.vn\r\n\
From: Giam doc <giamdoc@laocai.gov.vn>\r\nTo: vanthu@laocai.gov.vn\r\nSubject: Bao cao\r\n\
Message-ID: <f1@x>\r\n\r\nGui bao cao thang.\r\n";
    let names =
        |v: &Value| -> Vec<String> { v["symbols"].as_object().unwrap().keys().cloned().collect() };
    // No client address: nothing verified, the forged pass is not trusted.
    let req = Request::post("/checkv2")
        .header("Rcpt", "vanthu@laocai.gov.vn")
        .body(Body::from(forged))
        .unwrap();
    let (s, v) = json(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!names(&v).contains(&"TRUSTED_INTERNAL".to_string()), "{v}");
    // From outside with the forged header: still a spoof of our domain.
    let req = Request::post("/checkv2")
        .header("Rcpt", "vanthu@laocai.gov.vn")
        .header("IP", "192.0.2.66")
        .header("From", "giamdoc@laocai.gov.vn")
        .body(Body::from(forged))
        .unwrap();
    let (_, v) = json(&st, req).await;
    let n = names(&v);
    assert!(!n.contains(&"TRUSTED_INTERNAL".to_string()), "{v}");
    assert!(n.contains(&"OWN_DOMAIN_OUTSIDE_PATH".to_string()), "{v}");
    // The same, sent by an authenticated user: own path, no spoof.
    let req = Request::post("/checkv2")
        .header("Rcpt", "vanthu@laocai.gov.vn")
        .header("IP", "192.0.2.66")
        .header("From", "giamdoc@laocai.gov.vn")
        .header("User", "giamdoc")
        .body(Body::from(forged))
        .unwrap();
    let (_, v) = json(&st, req).await;
    let n = names(&v);
    assert!(!n.contains(&"OWN_DOMAIN_OUTSIDE_PATH".to_string()), "{v}");
    assert!(
        !n.iter()
            .any(|x| x.starts_with("SPF_") || x.starts_with("DMARC_")),
        "{v}"
    );
}
