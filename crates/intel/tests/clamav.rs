//! The clamd client against a real clamd (Debian's clamav-daemon, a
//! throw-away instance with a locally written signature database, see
//! `phishgate_testkit::Clamd`) and against fake servers that misbehave.
//!
//! Run: `cargo test -p phishgate-intel --test clamav` (root, clamav-daemon
//! installed; `scripts/test` installs it).

// Helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use phishgate_core::config::Limits;
use phishgate_core::view::MessageView;
use phishgate_core::{AntivirusOutcome, Config, Engine, Envelope, Facts, ScanInput, ScanResult};
use phishgate_intel::{ClamavConfig, Clamd};
use phishgate_testkit::{
    eicar, Clamd as ClamdServer, ClamdBuilder, CONG_VAN_FIXTURE,
    CONG_VAN_FOUND as CONG_VAN_SIGNATURE, EICAR_FOUND as EICAR_SIGNATURE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn b64(data: &[u8]) -> String {
    phishgate_testkit::base64_mime(data)
}

/// A message from an outside sender with these attachments.
fn message(attachments: &[(&str, &[u8])]) -> Vec<u8> {
    let mut m = String::from(
        "From: Van phong <vanphong@doitac.example>\r\nTo: a@laocai.gov.vn\r\nSubject: Tai lieu\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n\
--BND\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGui anh chi tai lieu dinh kem.\r\n",
    );
    for (name, data) in attachments {
        m.push_str(&format!(
            "--BND\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(data)
        ));
    }
    m.push_str("--BND--\r\n");
    m.into_bytes()
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn engine() -> Engine {
    Engine::new(Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").unwrap())
        .unwrap()
}

/// The whole path the gateway takes: view, antivirus, scan of the view.
async fn scan_message(clamd: &Clamd, raw: &[u8]) -> (ScanResult, Facts) {
    let engine = engine();
    let view = MessageView::build(raw, &Limits::default());
    let mut facts = Facts::default();
    phishgate_intel::enrich_view(&view, None, Some(clamd), &mut facts).await;
    let r = engine.scan_view(
        &view,
        &ScanInput {
            raw,
            envelope: &Envelope::default(),
            facts: &facts,
        },
    );
    (r, facts)
}

fn symbol(r: &ScanResult, name: &str) -> Option<Vec<String>> {
    r.symbols
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.options.clone())
}

fn client(addr: &str) -> Clamd {
    Clamd::new(ClamavConfig::new(addr)).unwrap()
}

#[tokio::test]
async fn eicar_is_found_and_named_with_its_attachment() {
    let server = ClamdServer::start().unwrap();
    let clamd = client(&server.tcp_address());
    let raw = message(&[("readme.txt", b"hello"), ("eicar.com", &eicar())]);
    let (r, facts) = scan_message(&clamd, &raw).await;
    let av = facts.antivirus.unwrap();
    assert_eq!(av[0].outcome, AntivirusOutcome::Clean);
    assert_eq!(
        av[1].outcome,
        AntivirusOutcome::Found(EICAR_SIGNATURE.into())
    );
    assert_eq!(
        symbol(&r, "CLAMAV_VIRUS").unwrap(),
        [format!("{EICAR_SIGNATURE} (eicar.com)")]
    );
    assert!(r.score >= 9.0, "{}", r.score);
}

#[tokio::test]
async fn corpus_fixture_attachment_and_the_same_inside_a_zip() {
    let server = ClamdServer::start().unwrap();
    // The unix socket, this time.
    let clamd = client(server.socket_path().to_str().unwrap());
    let (path, name) = CONG_VAN_FIXTURE;
    let raw = std::fs::read(repo_root().join(path)).unwrap();
    let (r, _) = scan_message(&clamd, &raw).await;
    assert_eq!(
        symbol(&r, "CLAMAV_VIRUS").unwrap(),
        [format!("{CONG_VAN_SIGNATURE} ({name})")]
    );
    // The fixture's program and EICAR inside one zip, next to a clean file:
    // clamd (ScanArchive) finds a member; the evidence names the zip.
    let view = MessageView::build(&raw, &Limits::default());
    let program = view.attachments[0].content.bytes().to_vec();
    let z = zip_of(&[
        ("doc/readme.txt", b"nothing"),
        ("doc/Cong_van.pdf.exe", &program),
    ]);
    let ze = zip_of(&[("eicar.txt", &eicar())]);
    let raw = message(&[("ho_so.zip", &z), ("test.zip", &ze)]);
    let (r, facts) = scan_message(&clamd, &raw).await;
    let av = facts.antivirus.unwrap();
    assert_eq!(
        av[0].outcome,
        AntivirusOutcome::Found(CONG_VAN_SIGNATURE.into())
    );
    assert_eq!(
        av[1].outcome,
        AntivirusOutcome::Found(EICAR_SIGNATURE.into())
    );
    let opts = symbol(&r, "CLAMAV_VIRUS").unwrap();
    assert!(
        opts.contains(&format!("{CONG_VAN_SIGNATURE} (ho_so.zip)")),
        "{opts:?}"
    );
}

#[tokio::test]
async fn clean_mail_has_no_antivirus_symbol() {
    let server = ClamdServer::start().unwrap();
    let clamd = client(&server.tcp_address());
    let z = zip_of(&[("bao_cao.txt", "Báo cáo quý I".as_bytes())]);
    let raw = message(&[
        ("bao_cao.zip", &z),
        ("ghi_chu.txt", b"ghi chu"),
        ("empty.txt", b""),
    ]);
    let (r, facts) = scan_message(&clamd, &raw).await;
    assert!(facts
        .antivirus
        .unwrap()
        .iter()
        .all(|s| s.outcome == AntivirusOutcome::Clean));
    assert!(
        !r.symbols.iter().any(|s| s.name.starts_with("CLAMAV")),
        "{:?}",
        r.symbols
    );
    // The empty attachment was not sent.
    assert_eq!(clamd.stats().scans, 2);
}

#[tokio::test]
async fn encrypted_zip_from_the_corpus_is_reported_as_encrypted() {
    let server = ClamdServer::start().unwrap();
    let clamd = client(&server.tcp_address());
    let raw =
        std::fs::read(repo_root().join("corpus/phish/vi/35-zip-ma-hoa-mat-khau-trong-thu.eml"))
            .unwrap();
    let (r, facts) = scan_message(&clamd, &raw).await;
    let av = facts.antivirus.unwrap();
    assert!(
        matches!(&av[0].outcome, AntivirusOutcome::Found(n) if n.starts_with("Heuristics.Encrypted")),
        "{av:?}"
    );
    let opts = symbol(&r, "CLAMAV_ENCRYPTED").unwrap();
    assert!(opts[0].contains("Ket_luan_thanh_tra_2026.zip"), "{opts:?}");
    assert!(symbol(&r, "CLAMAV_VIRUS").is_none());
}

#[tokio::test]
async fn size_limits_ours_and_clamds() {
    let server = ClamdBuilder::new().stream_max_length("1M").start().unwrap();
    // Ours: not sent at all.
    let mut cfg = ClamavConfig::new(&server.tcp_address());
    cfg.max_size = 100_000;
    let clamd = Clamd::new(cfg).unwrap();
    let big = vec![b'a'; 200_000];
    let raw = message(&[("big.bin", &big)]);
    let (r, _) = scan_message(&clamd, &raw).await;
    let opts = symbol(&r, "CLAMAV_TOO_LARGE").unwrap();
    assert!(
        opts[0].starts_with("big.bin: 200000 bytes > max_size 100000"),
        "{opts:?}"
    );
    assert_eq!(clamd.stats().connections, 0);
    // clamd's StreamMaxLength (1M) below ours: clamd refuses the stream;
    // reported as too large, never as clean.
    let clamd = client(&server.tcp_address());
    let huge = vec![b'b'; 3 * 1024 * 1024];
    let outcome = clamd.scan_bytes(&huge).await;
    match &outcome {
        AntivirusOutcome::TooLarge(why) => assert!(why.contains("size limit"), "{why}"),
        // clamd may reset the connection before its reply is read.
        AntivirusOutcome::TempFail(_) => {}
        other => panic!("{other:?}"),
    }
    // The client still works afterwards (the refused session was dropped).
    assert_eq!(
        clamd.scan_bytes(&eicar()).await,
        AntivirusOutcome::Found(EICAR_SIGNATURE.into())
    );
    eprintln!("clamd StreamMaxLength outcome: {outcome:?}");
}

#[tokio::test]
async fn clamd_stopped_is_a_tempfail_and_the_rest_is_not_waited_for() {
    let mut server = ClamdServer::start().unwrap();
    let clamd = client(&server.tcp_address());
    assert_eq!(clamd.scan_bytes(b"hello").await, AntivirusOutcome::Clean);
    server.stop();
    let raw = message(&[("a.txt", b"one"), ("b.txt", b"two")]);
    let start = Instant::now();
    let (r, facts) = scan_message(&clamd, &raw).await;
    let av = facts.antivirus.unwrap();
    assert!(
        matches!(&av[0].outcome, AntivirusOutcome::TempFail(_)),
        "{av:?}"
    );
    assert!(
        matches!(&av[1].outcome, AntivirusOutcome::TempFail(w) if w.starts_with("not sent")),
        "{av:?}"
    );
    let s = r
        .symbols
        .iter()
        .find(|s| s.name == "CLAMAV_TEMPFAIL")
        .unwrap();
    assert_eq!(s.score, 0.0);
    assert_eq!(s.options.len(), 2);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(clamd.ping().await.is_err());
}

/// A fake clamd: accepts connections and runs `f` on each.
async fn fake<F, Fut>(f: F) -> (String, Arc<std::sync::atomic::AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(f(s));
        }
    });
    (addr, count)
}

/// Reads one zINSTREAM (after an optional zIDSESSION) and returns whether
/// a whole stream arrived.
async fn read_instream(s: &mut tokio::net::TcpStream, first: bool) -> bool {
    let mut cmd = Vec::new();
    let mut b = [0u8; 1];
    let want: &[u8] = if first {
        b"zIDSESSION\0zINSTREAM\0"
    } else {
        b"zINSTREAM\0"
    };
    while cmd.len() < want.len() {
        if s.read_exact(&mut b).await.is_err() {
            return false;
        }
        cmd.push(b[0]);
    }
    if cmd != want {
        return false;
    }
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).await.is_err() {
            return false;
        }
        let n = u32::from_be_bytes(len) as usize;
        if n == 0 {
            return true;
        }
        let mut chunk = vec![0u8; n];
        if s.read_exact(&mut chunk).await.is_err() {
            return false;
        }
    }
}

#[tokio::test]
async fn garbage_replies_are_tempfails() {
    for reply in [
        &b"hello there\0"[..],
        b"1: stream: maybe\0",
        b"7: stream: OK\0",
        b"\xff\xfe\xfd\0",
        b"1: stream: OK\x001: stream: OK\0",
        b"1: stream: OK", // no NUL, then close
        &[b'x'; 100_000], // endless line
    ] {
        let shown = String::from_utf8_lossy(&reply[..reply.len().min(40)]).to_string();
        let reply = reply.to_vec();
        let (addr, _) = fake(move |mut s| {
            let reply = reply.clone();
            async move {
                if read_instream(&mut s, true).await {
                    let _ = s.write_all(&reply).await;
                }
            }
        })
        .await;
        let mut cfg = ClamavConfig::new(&addr);
        cfg.timeout_ms = 2000;
        let clamd = Clamd::new(cfg).unwrap();
        let o = clamd.scan_bytes(&eicar()).await;
        assert!(
            matches!(o, AntivirusOutcome::TempFail(_)),
            "{shown:?} -> {o:?}"
        );
    }
}

#[tokio::test]
async fn a_hanging_clamd_times_out() {
    let (addr, _) = fake(|mut s| async move {
        let _ = read_instream(&mut s, true).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let mut cfg = ClamavConfig::new(&addr);
    cfg.timeout_ms = 300;
    let clamd = Clamd::new(cfg).unwrap();
    let start = Instant::now();
    let raw = message(&[("a.txt", b"one"), ("b.txt", b"two"), ("c.txt", b"three")]);
    let view = MessageView::build(&raw, &Limits::default());
    let av = clamd.scan_attachments(&view.attachments).await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(&av[0].outcome, AntivirusOutcome::TempFail(w) if w.contains("timed out")),
        "{av:?}"
    );
    assert!(av
        .iter()
        .all(|s| matches!(s.outcome, AntivirusOutcome::TempFail(_))));
    // A server that accepts and never reads: same.
    let (addr, _) = fake(|s| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    })
    .await;
    let mut cfg = ClamavConfig::new(&addr);
    cfg.timeout_ms = 300;
    let o = Clamd::new(cfg)
        .unwrap()
        .scan_bytes(&vec![0u8; 8 << 20])
        .await;
    assert!(matches!(o, AntivirusOutcome::TempFail(_)), "{o:?}");
}

#[tokio::test]
async fn sessions_are_reused_across_many_scans() {
    let server = ClamdServer::start().unwrap();
    let clamd = client(&server.tcp_address());
    let start = Instant::now();
    let n = 200;
    for i in 0..n {
        let data = if i % 10 == 0 {
            eicar()
        } else {
            format!("document {i}").into_bytes()
        };
        let o = clamd.scan_bytes(&data).await;
        let want = if i % 10 == 0 {
            AntivirusOutcome::Found(EICAR_SIGNATURE.into())
        } else {
            AntivirusOutcome::Clean
        };
        assert_eq!(o, want, "scan {i}");
    }
    let per = start.elapsed() / n;
    let st = clamd.stats();
    assert_eq!(st.connections, 1, "{st:?}");
    assert_eq!(st.reused, u64::from(n) - 1, "{st:?}");
    eprintln!("clamd INSTREAM latency on one pooled session: {per:?} per small attachment");
}

#[tokio::test]
async fn a_session_closed_by_clamd_is_replaced_transparently() {
    // A fake that answers one command per session, then closes it (as clamd
    // does at its IdleTimeout).
    let (addr, conns) = fake(|mut s| async move {
        if read_instream(&mut s, true).await {
            let _ = s.write_all(b"1: stream: OK\0").await;
        }
    })
    .await;
    let clamd = client(&addr);
    for _ in 0..5 {
        assert_eq!(clamd.scan_bytes(b"x").await, AntivirusOutcome::Clean);
    }
    assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 5);
    assert_eq!(clamd.stats().tempfails, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scans_share_a_bounded_pool() {
    let server = ClamdServer::start().unwrap();
    let mut cfg = ClamavConfig::new(&server.tcp_address());
    cfg.pool_size = 3;
    let clamd = Clamd::new(cfg).unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..60 {
        let clamd = clamd.clone();
        set.spawn(async move {
            let infected = i % 3 == 0;
            let data = if infected {
                zip_of(&[("x/eicar.txt", &eicar())])
            } else {
                format!("report {i} {}", "y".repeat(i * 1000)).into_bytes()
            };
            (infected, clamd.scan_bytes(&data).await)
        });
    }
    while let Some(r) = set.join_next().await {
        let (infected, o) = r.unwrap();
        if infected {
            assert_eq!(o, AntivirusOutcome::Found(EICAR_SIGNATURE.into()));
        } else {
            assert_eq!(o, AntivirusOutcome::Clean);
        }
    }
    let st = clamd.stats();
    assert!(st.connections <= 3, "{st:?}");
    assert_eq!(st.scans, 60);
    assert_eq!(st.tempfails, 0);
}
