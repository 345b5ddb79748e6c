//! DNS block lists against the loopback DNS server: a listed client IP, a
//! listed link domain, a list that never answers, and the lookup bound.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use phishgate_core::{Config, DnsblOutcome, Engine, Envelope, Facts, ScanInput};
use phishgate_intel::dns::{DnsConfig, Resolver};
use phishgate_intel::dnsbl::{message_domains, DnsblChecker};
use phishgate_testkit::{DnsServer, Fault, Zone};

const CONFIG: &str = r#"
[organization]
domains = ["laocai.gov.vn"]
authserv_id = "mail.laocai.gov.vn"

[symbols.RBL_TEST_SBL]
group = "dnsbl"
score = 4.0
en = "Client listed in the test SBL"

[[dnsbl]]
zone = "zen.test"
kind = "ip"
codes = { "127.0.0.2" = "RBL_TEST_SBL", "127.0.0.4" = "RBL_LISTED" }

[[dnsbl]]
zone = "dbl.test"
kind = "domain"
default_symbol = "URIBL_LISTED"

[[dnsbl]]
zone = "slow.test"
kind = "ip"
codes = { "127.0.0.2" = "RBL_LISTED" }
"#;

const LISTED_IP: &str = "192.0.2.99";
const CLEAN_IP: &str = "192.0.2.1";

const PHISH: &[u8] = b"From: Ho tro <hotro@clean-sender.example>\r\nTo: a@laocai.gov.vn\r\n\
Subject: Tai lieu\r\nContent-Type: text/html\r\n\r\n\
<p>Xem <a href=\"https://docs.bad-link.top/view\">tai lieu</a> va \
<a href=\"https://www.laocai.gov.vn/\">trang chu</a>.</p>\r\n";

fn world() -> (DnsServer, Arc<Resolver>, Config) {
    let mut z = Zone::new();
    z.a("99.2.0.192.zen.test", Ipv4Addr::new(127, 0, 0, 2))
        .a("99.2.0.192.zen.test", Ipv4Addr::new(127, 255, 255, 254))
        .a("bad-link.top.dbl.test", Ipv4Addr::new(127, 0, 1, 2));
    // The slow list never answers anything.
    z.fault("99.2.0.192.slow.test", Fault::Timeout)
        .fault("1.2.0.192.slow.test", Fault::Timeout);
    let server = DnsServer::start(z).unwrap();
    let resolver = Arc::new(
        Resolver::new(&DnsConfig {
            servers: vec![server.addr().to_string()],
            timeout_ms: 300,
            attempts: 1,
            cache_size: 256,
        })
        .unwrap(),
    );
    (server, resolver, Config::from_toml_str(CONFIG).unwrap())
}

#[tokio::test]
async fn listed_ip_and_link_domain_become_symbols_and_a_silent_list_a_tempfail() {
    let (server, resolver, config) = world();
    let checker = DnsblChecker::new(resolver, &config.dnsbl, Duration::from_secs(1), 40);
    let domains = message_domains(
        PHISH,
        &config.limits,
        Some("bounce@clean-sender.example"),
        &config.organization.domains,
    );
    assert_eq!(domains, vec!["clean-sender.example", "bad-link.top"]);
    let t = Instant::now();
    let facts = checker
        .check(Some(LISTED_IP.parse().unwrap()), &domains)
        .await;
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );

    let zen = facts.iter().find(|f| f.zone == "zen.test").unwrap();
    assert_eq!(zen.subject, LISTED_IP);
    let DnsblOutcome::Listed(codes) = &zen.outcome else {
        panic!("{zen:?}")
    };
    assert!(codes.contains(&"127.0.0.2".to_string()));
    let slow = facts.iter().find(|f| f.zone == "slow.test").unwrap();
    assert!(
        matches!(slow.outcome, DnsblOutcome::TempFail(_)),
        "{slow:?}"
    );
    assert!(server.queries_for("clean-sender.example.dbl.test") == 1);

    let engine = Engine::new(config).unwrap();
    let r = engine.scan(&ScanInput {
        raw: PHISH,
        envelope: &Envelope {
            client_ip: Some(LISTED_IP.to_string()),
            ..Envelope::default()
        },
        facts: &Facts {
            dnsbl: facts,
            ..Facts::default()
        },
    });
    let sym = |n: &str| r.symbols.iter().find(|s| s.name == n);
    let sbl = sym("RBL_TEST_SBL").unwrap();
    assert_eq!(
        sbl.options,
        vec![format!("{LISTED_IP} in zen.test (127.0.0.2)")]
    );
    assert!(sbl.score > 0.0);
    let uribl = sym("URIBL_LISTED").unwrap();
    assert_eq!(uribl.options, vec!["bad-link.top in dbl.test (127.0.1.2)"]);
    assert!(sym("RBL_LISTED").is_none(), "127.0.0.4 was not returned");
    let tf = sym("DNSBL_TEMPFAIL").unwrap();
    assert_eq!(tf.score, 0.0);
    assert!(tf.options[0].starts_with("slow.test"), "{:?}", tf.options);
}

#[tokio::test]
async fn clean_ip_and_private_ip_are_not_listed() {
    let (server, resolver, config) = world();
    let checker = DnsblChecker::new(resolver, &config.dnsbl, Duration::from_secs(1), 40);
    // zen answers NXDOMAIN; slow.test never answers for this one either.
    let facts = checker.check(Some(CLEAN_IP.parse().unwrap()), &[]).await;
    assert!(facts.iter().all(|f| f.zone == "slow.test"), "{facts:?}");
    let before = server.queries();
    let facts = checker
        .check(Some("10.1.2.3".parse::<IpAddr>().unwrap()), &[])
        .await;
    assert!(facts.is_empty());
    assert_eq!(
        server.queries(),
        before,
        "private addresses are not looked up"
    );
}

#[tokio::test]
async fn lookups_are_bounded_and_within_the_budget() {
    let (server, resolver, config) = world();
    server.set_fault_all(Some(Fault::Timeout));
    let checker = DnsblChecker::new(resolver, &config.dnsbl, Duration::from_millis(600), 5);
    let domains: Vec<String> = (0..50).map(|i| format!("d{i}.example")).collect();
    let t = Instant::now();
    let facts = checker
        .check(Some(LISTED_IP.parse().unwrap()), &domains)
        .await;
    assert!(
        t.elapsed() < Duration::from_millis(1100),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(facts.len(), 5, "five lookups at most");
    assert!(facts
        .iter()
        .all(|f| matches!(f.outcome, DnsblOutcome::TempFail(_))));
    assert!(server.queries() <= 5, "{}", server.queries());
}
