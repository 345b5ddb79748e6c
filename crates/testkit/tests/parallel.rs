//! Instances are independent: run at once, torn down cleanly.

use std::collections::HashSet;
use std::net::TcpStream;
use std::time::Duration;

use phishgate_testkit::{PostfixBuilder, SendSpec, SENDER_DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

/// Start an instance, send it a message tagged `tag`, and return what the
/// instance saw: (hostname, dir, port, the delivered Subjects).
#[allow(clippy::unwrap_used)] // runs on a test thread: a failure fails the test
fn run_one(tag: usize) -> (String, String, u16, Vec<String>) {
    let pf = PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .mailbox("alice")
        .start()
        .unwrap();
    for i in 0..2 {
        let sent = pf
            .send_swaks(&SendSpec::new(
                format!("a@{SENDER_DOMAIN}"),
                &["alice@laocai.gov.vn"],
                format!("Subject: instance {tag} message {i}\r\n\r\nfrom {tag}\r\n"),
            ))
            .unwrap();
        assert_eq!(sent.final_code, Some(250), "{}", sent.transcript);
    }
    let got = pf.wait_for_maildir("alice", 2, WAIT).unwrap();
    pf.wait_until_queue_empty(WAIT).unwrap();
    // Give a stray cross-delivery a moment to show up before counting.
    std::thread::sleep(Duration::from_millis(300));
    let got_again = pf.maildir("alice");
    assert_eq!(got.len(), got_again.len());
    let subjects = got_again
        .iter()
        .map(|m| {
            let received = m.header("Received").unwrap();
            assert!(received.contains(pf.hostname()), "{received}");
            assert_eq!(m.body_text(), format!("from {tag}\n"));
            m.header("Subject").unwrap()
        })
        .collect();
    assert!(pf.log().contains(pf.hostname()));
    (
        pf.hostname().to_owned(),
        pf.dir().display().to_string(),
        pf.smtp_port(),
        subjects,
    )
}

#[test]
fn instances_in_parallel_threads_do_not_interfere() {
    const N: usize = 4;
    let handles: Vec<_> = (0..N)
        .map(|tag| std::thread::spawn(move || run_one(tag)))
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let hostnames: HashSet<_> = results.iter().map(|r| r.0.clone()).collect();
    let dirs: HashSet<_> = results.iter().map(|r| r.1.clone()).collect();
    let ports: HashSet<_> = results.iter().map(|r| r.2).collect();
    assert_eq!((hostnames.len(), dirs.len(), ports.len()), (N, N, N));
    for (tag, (_, dir, _, subjects)) in results.iter().enumerate() {
        let mut subjects = subjects.clone();
        subjects.sort();
        assert_eq!(
            subjects,
            [
                format!("instance {tag} message 0"),
                format!("instance {tag} message 1")
            ]
        );
        assert!(
            !std::path::Path::new(dir).exists(),
            "{dir} not removed on drop"
        );
    }
}

#[test]
fn stop_and_drop_clean_up() {
    let mut a = PostfixBuilder::new().start().unwrap();
    let b = PostfixBuilder::new().start().unwrap();
    let (a_addr, a_dir) = (a.smtp_addr(), a.dir().to_owned());
    a.stop().unwrap();
    a.stop().unwrap(); // idempotent
    assert!(
        TcpStream::connect_timeout(&a_addr, Duration::from_secs(1)).is_err(),
        "still listening after stop"
    );
    // The other instance is unaffected.
    let sent = b
        .send_swaks(&SendSpec::new(
            format!("a@{SENDER_DOMAIN}"),
            &["x@example.test"],
            "Subject: still here\r\n\r\nok\r\n",
        ))
        .unwrap();
    assert_eq!(sent.final_code, Some(250), "{}", sent.transcript);
    b.wait_for_maildir("catchall", 1, WAIT).unwrap();
    assert!(a_dir.exists(), "stop keeps the directory until drop");
    drop(a);
    assert!(!a_dir.exists());

    // reload and postconf work on this instance only.
    b.postconf_set("smtpd_banner", "$myhostname ESMTP reloaded-banner")
        .unwrap();
    assert_eq!(
        b.postconf_get("smtpd_banner").unwrap(),
        "$myhostname ESMTP reloaded-banner"
    );
    b.reload().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let c = phishgate_testkit::SmtpClient::connect(b.smtp_addr()).unwrap();
        if c.greeting.text().contains("reloaded-banner") {
            c.quit();
            break;
        }
        c.quit();
        assert!(std::time::Instant::now() < deadline, "reload not seen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let b_dir = b.dir().to_owned();
    drop(b);
    assert!(!b_dir.exists());
}
