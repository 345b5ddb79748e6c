//! Shared by the enrichment tests: a loopback DNS zone for a provincial
//! organisation and its correspondents, DKIM keys generated at test time,
//! and a scan through the real core engine with the facts intel produced.

// Test support: a failure here is the test failing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use phishgate_core::{Config, Engine, Envelope, Facts, ScanInput, ScanResult};
use phishgate_intel::auth::{AuthSession, AuthVerdict, Verifier};
use phishgate_intel::dns::{DnsConfig, Resolver};
use phishgate_testkit::{DnsServer, Zone};

/// The organisation's configuration for the engine.
pub const ORG_TOML: &str = r#"
[organization]
name = "Sở Thông tin và Truyền thông tỉnh Lào Cai"
domains = ["laocai.gov.vn"]
authserv_id = "mail.laocai.gov.vn"
"#;

/// Addresses SPF authorises.
pub const PARTNER_IP: &str = "198.51.100.10";
pub const LOOKALIKE_IP: &str = "198.51.100.20";
pub const LAOCAI_IP: &str = "203.0.113.5";
/// An address nobody authorises.
pub const OUTSIDE_IP: &str = "192.0.2.66";

/// Standard base64 (DKIM `p=`).
pub fn b64(data: &[u8]) -> String {
    phishgate_testkit::base64(data)
}

/// An Ed25519 DKIM key generated now with ring.
pub struct EdKey {
    pkcs8: Vec<u8>,
}

impl EdKey {
    pub fn generate() -> EdKey {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        EdKey {
            pkcs8: doc.as_ref().to_vec(),
        }
    }
    pub fn key(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap()
    }
    /// The `_domainkey` TXT record.
    pub fn record(&self) -> String {
        format!("v=DKIM1; k=ed25519; p={}", b64(&self.key().public_key()))
    }
    /// `raw` with a DKIM-Signature of `domain`/`selector` prepended.
    pub fn sign(&self, raw: &str, domain: &str, selector: &str) -> String {
        let sig = DkimSigner::from_key(self.key())
            .domain(domain)
            .selector(selector)
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .sign(raw.as_bytes())
            .unwrap();
        format!("{}{raw}", sig.to_header())
    }
}

/// A 2048-bit RSA key generated now (ring signs RSA but cannot generate
/// keys; openssl does, once per test run).
pub struct RsaTestKey {
    pkcs1_der: Vec<u8>,
    spki_der: Vec<u8>,
}

impl RsaTestKey {
    pub fn generate() -> RsaTestKey {
        let dir = std::env::temp_dir().join(format!(
            "phishgate-rsa-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.der");
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl must be installed (scripts/test installs it)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let key_s = key.to_str().unwrap();
        run(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
            "-out",
            key_s,
        ]);
        let spki_der = run(&[
            "pkey", "-inform", "DER", "-in", key_s, "-pubout", "-outform", "DER",
        ]);
        let pkcs1_der = std::fs::read(&key).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        RsaTestKey {
            pkcs1_der,
            spki_der,
        }
    }
    pub fn record(&self) -> String {
        format!("v=DKIM1; k=rsa; p={}", b64(&self.spki_der))
    }
    pub fn sign(&self, raw: &str, domain: &str, selector: &str) -> String {
        // OpenSSL 3 writes a DER RSA key as PKCS#1; `from_der` reads that
        // without a direct dependency on rustls-pki-types.
        #[allow(deprecated)]
        let key = RsaKey::<Sha256>::from_der(&self.pkcs1_der).unwrap();
        let sig = DkimSigner::from_key(key)
            .domain(domain)
            .selector(selector)
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .sign(raw.as_bytes())
            .unwrap();
        format!("{}{raw}", sig.to_header())
    }
}

/// The world the tests live in.
pub struct World {
    pub server: DnsServer,
    pub resolver: Arc<Resolver>,
    pub verifier: Verifier,
    pub partner_key: EdKey,
    pub laocai_key: EdKey,
    pub lookalike_key: EdKey,
}

/// A plain, neutral message (no lure words) from `from` to the organisation.
pub fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: vanthu@laocai.gov.vn\r\nSubject: {subject}\r\n\
Date: Mon, 6 Oct 2025 09:00:00 +0700\r\nMessage-ID: <{}@test>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Kinh gui van thu,\r\nGui kem bao cao thang 9 de tong hop.\r\nTran trong.\r\n",
        subject.len()
    )
}

impl World {
    /// Starts the DNS server with the standard zone plus `extra`, and a
    /// resolver with the given per-query time-out and attempts.
    pub fn start(timeout_ms: u64, attempts: usize, extra: impl FnOnce(&mut Zone)) -> World {
        let partner_key = EdKey::generate();
        let laocai_key = EdKey::generate();
        let lookalike_key = EdKey::generate();
        let mut z = Zone::new();
        // A correspondent with a strict policy.
        z.txt("partner.vn", &format!("v=spf1 ip4:{PARTNER_IP} -all"))
            .txt("s1._domainkey.partner.vn", &partner_key.record())
            .txt("_dmarc.partner.vn", "v=DMARC1; p=reject")
            // Soft SPF, no DMARC.
            .txt("softfail.vn", &format!("v=spf1 ip4:{PARTNER_IP} ~all"))
            // Monitoring only.
            .txt("monitor.vn", &format!("v=spf1 ip4:{PARTNER_IP} -all"))
            .txt("_dmarc.monitor.vn", "v=DMARC1; p=none")
            .txt("hold.vn", &format!("v=spf1 ip4:{PARTNER_IP} -all"))
            .txt("_dmarc.hold.vn", "v=DMARC1; p=quarantine")
            // The organisation: SPF for its server, its DKIM key, and, like
            // many provincial domains, no DMARC record.
            .txt("laocai.gov.vn", &format!("v=spf1 ip4:{LAOCAI_IP} ~all"))
            .txt("mail2025._domainkey.laocai.gov.vn", &laocai_key.record())
            // Lookalikes with perfect authentication.
            .txt("laocai-gov.vn", &format!("v=spf1 ip4:{LOOKALIKE_IP} -all"))
            .txt("s1._domainkey.laocai-gov.vn", &lookalike_key.record())
            .txt("_dmarc.laocai-gov.vn", "v=DMARC1; p=reject")
            .txt("laocal.gov.vn", &format!("v=spf1 ip4:{LOOKALIKE_IP} -all"))
            .txt("s1._domainkey.laocal.gov.vn", &lookalike_key.record())
            .txt("_dmarc.laocal.gov.vn", "v=DMARC1; p=reject");
        extra(&mut z);
        let server = DnsServer::start(z).unwrap();
        let cfg = DnsConfig {
            servers: vec![server.addr().to_string()],
            timeout_ms,
            attempts,
            cache_size: 1024,
        };
        let resolver = Arc::new(Resolver::new(&cfg).unwrap());
        let verifier = Verifier::new(
            Arc::clone(&resolver),
            "mail.laocai.gov.vn",
            Duration::from_millis(1500),
        );
        World {
            server,
            resolver,
            verifier,
            partner_key,
            laocai_key,
            lookalike_key,
        }
    }

    pub async fn verify(&self, ip: &str, helo: &str, mail_from: &str, raw: &str) -> AuthVerdict {
        let session = AuthSession {
            client_ip: ip.parse::<IpAddr>().unwrap(),
            helo,
            mail_from,
        };
        self.verifier.verify(&session, raw.as_bytes()).await
    }
}

/// Scans `raw` with the organisation's engine (`extra_toml` appended to
/// its configuration, so bare keys land in `[organization]`) as the gateway would: the session in the envelope,
/// the verified results in the facts.
pub fn scan(
    extra_toml: &str,
    verdict: &AuthVerdict,
    ip: &str,
    helo: &str,
    mail_from: &str,
    raw: &str,
) -> ScanResult {
    let config = Config::from_toml_str(&format!("{ORG_TOML}\n{extra_toml}")).unwrap();
    let engine = Engine::new(config).unwrap();
    let envelope = Envelope {
        mail_from: Some(mail_from.to_string()),
        rcpt_to: vec!["vanthu@laocai.gov.vn".to_string()],
        client_ip: Some(ip.to_string()),
        helo: Some(helo.to_string()),
        authenticated_user: None,
    };
    let facts = Facts {
        auth: Some(verdict.results.clone()),
        ..Facts::default()
    };
    engine.scan(&ScanInput {
        raw: raw.as_bytes(),
        envelope: &envelope,
        facts: &facts,
    })
}

/// `method=result` of every result, for assertions and failure messages.
pub fn tokens(v: &AuthVerdict) -> Vec<String> {
    v.results
        .results
        .iter()
        .map(|r| format!("{}={}", r.method, r.result))
        .collect()
}

pub fn names(r: &ScanResult) -> Vec<&str> {
    r.symbols.iter().map(|s| s.name.as_str()).collect()
}

pub fn has(r: &ScanResult, name: &str) -> bool {
    r.symbols.iter().any(|s| s.name == name)
}

pub fn score_of(r: &ScanResult, name: &str) -> f64 {
    r.symbols
        .iter()
        .find(|s| s.name == name)
        .map_or(f64::NAN, |s| s.score)
}
