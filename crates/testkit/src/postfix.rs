//! The throw-away Postfix instance: builder, configuration, lifecycle,
//! queue and Maildir access.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::maildir::{read_maildir, Delivered};
use crate::queue::{parse_postqueue_json, QueueEntry};
use crate::smtp::{send_raw_smtp, Message, ReplyOutcome};
use crate::swaks::{SendSpec, SwaksResult, SENDER_DOMAIN};

/// The Postfix front end.
pub const POSTFIX: &str = "/usr/sbin/postfix";
/// The configuration utility.
pub const POSTCONF: &str = "/usr/sbin/postconf";
/// The queue listing / flush utility.
pub const POSTQUEUE: &str = "/usr/sbin/postqueue";
/// The queue maintenance utility.
pub const POSTSUPER: &str = "/usr/sbin/postsuper";

/// The uid and gid that virtual(8) delivers as (`nobody`/`nogroup` on Debian).
pub const VMAIL_ID: u32 = 65534;

/// The domain used when the builder is given none.
pub const DEFAULT_DOMAIN: &str = "example.test";

/// Set to `1` to keep each instance's directory after the test (its path is
/// printed on stderr).
pub const KEEP_ENV: &str = "PHISHGATE_KEEP_POSTFIX";

/// How long [`PostfixBuilder::start`] waits for the `220` greeting.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times `start` retries with fresh ports when a port was taken.
const START_ATTEMPTS: usize = 5;

/// The port name of the inbound smtpd (`{{port:smtp}}`).
pub const SMTP_PORT: &str = "smtp";

static COUNTER: AtomicU64 = AtomicU64::new(0);
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A free TCP port on 127.0.0.1: bound to port 0 and released. It is never
/// handed out twice by this process, but another process may take it before
/// it is used; prefer keeping your own `TcpListener` when you can,
/// [`unused_port`] for an address where nothing must listen, and
/// [`PostfixBuilder::port`] for ports Postfix listens on (`start` retries
/// with fresh ports when one was taken).
pub fn alloc_port() -> Result<u16> {
    let mut guard = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = guard.get_or_insert_with(HashSet::new);
    for _ in 0..100 {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::io("binding 127.0.0.1:0 to find a free port", e))?
            .port();
        if seen.insert(port) {
            return Ok(port);
        }
    }
    Err(Error::Config(
        "could not find a port not handed out before".to_owned(),
    ))
}

/// A loopback port where nothing listens, for "the filter is down" tests:
/// free now, and chosen *below* the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`), where neither [`alloc_port`] (in any
/// process) nor outgoing connections pick ports, so that no other test's
/// Postfix or client takes it before the test starts its own server there
/// with [`crate::SmtpSink::start_on`].
pub fn unused_port() -> Result<u16> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768)
        .clamp(2048, 65535);
    let span = (low - 1024).min(10000);
    let mut guard = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = guard.get_or_insert_with(HashSet::new);
    // Start at a place that differs between processes and calls.
    let seed = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(
            u32::try_from(COUNTER.fetch_add(1, Ordering::Relaxed) % 10007).unwrap_or(0) * 104_729,
        )
        .wrapping_add(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
        );
    for i in 0..span {
        let port = u16::try_from(low - 1 - (seed.wrapping_add(i) % span)).unwrap_or(0);
        if port == 0 || seen.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            seen.insert(port);
            return Ok(port);
        }
    }
    Err(Error::Config(format!(
        "no free port between {} and {low}",
        low - span
    )))
}

/// Configures a throw-away Postfix instance; [`PostfixBuilder::start`] runs it.
///
/// ```no_run
/// use phishgate_testkit::{PostfixBuilder, SendSpec};
/// # fn main() -> Result<(), phishgate_testkit::Error> {
/// let pf = PostfixBuilder::new()
///     .domain("laocai.gov.vn")
///     .mailbox("alice")
///     .start()?;
/// let sent = pf.send_swaks(&SendSpec::new(
///     "bob@sender.test",
///     &["alice@laocai.gov.vn"],
///     "Subject: hi\r\n\r\nhello\r\n",
/// ))?;
/// assert_eq!(sent.final_code, Some(250));
/// let got = pf.wait_for_maildir("alice", 1, std::time::Duration::from_secs(10))?;
/// assert_eq!(got[0].header("Subject").as_deref(), Some("hi"));
/// # Ok(()) }
/// ```
///
/// # Placeholders
///
/// Text given to [`main_cf`](Self::main_cf), [`master_cf`](Self::master_cf)
/// and [`inbound_options`](Self::inbound_options) may use:
///
/// - `{{port:NAME}}`: a port Postfix listens on, declared with
///   [`port`](Self::port) (`{{port:smtp}}` is the inbound smtpd). Ports are
///   chosen at `start` and chosen again if one turned out to be taken.
/// - `{{dir}}`: the instance directory; `{{hostname}}`: its `myhostname`.
#[derive(Debug, Clone, Default)]
pub struct PostfixBuilder {
    domains: Vec<String>,
    mailboxes: Vec<String>,
    catch_all: Option<bool>,
    main_cf: Vec<String>,
    master_cf: Vec<String>,
    inbound_options: Vec<String>,
    ports: Vec<String>,
    start_timeout: Option<Duration>,
    no_probe: bool,
}

impl PostfixBuilder {
    /// A builder with no domain, mailbox or extra configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A virtual mailbox domain delivered to Maildirs (repeatable). Without
    /// any, [`DEFAULT_DOMAIN`] is used.
    #[must_use]
    pub fn domain(mut self, domain: &str) -> Self {
        self.domains.push(domain.to_owned());
        self
    }

    /// A mailbox (repeatable). `"alice"` delivers `alice@` every domain to
    /// the Maildir `alice/`; a full address `"alice@laocai.gov.vn"` delivers
    /// only that address, to the Maildir `alice@laocai.gov.vn/`.
    #[must_use]
    pub fn mailbox(mut self, name: &str) -> Self {
        self.mailboxes.push(name.to_owned());
        self
    }

    /// Deliver every other address of the domains to the Maildir `catchall/`.
    /// On by default when no mailbox is declared, off otherwise (unknown
    /// recipients are then refused with `550 5.1.1`).
    #[must_use]
    pub fn catch_all(mut self, on: bool) -> Self {
        self.catch_all = Some(on);
        self
    }

    /// Extra main.cf lines (`name = value`, continuation lines start with
    /// whitespace, `#` comments are dropped). A parameter the kit already
    /// sets is replaced in place, so there are no "overriding earlier entry"
    /// warnings. Placeholders are substituted.
    #[must_use]
    pub fn main_cf(mut self, extra: &str) -> Self {
        self.main_cf.push(extra.to_owned());
        self
    }

    /// Extra master.cf services (raw lines; continuation lines start with
    /// whitespace). A service with the same name and type as one the kit
    /// writes replaces it. Placeholders are substituted.
    #[must_use]
    pub fn master_cf(mut self, extra: &str) -> Self {
        self.master_cf.push(extra.to_owned());
        self
    }

    /// Extra `-o` options for the inbound smtpd, e.g.
    /// `&["content_filter=scan:[127.0.0.1]:{{port:filter}}"]` (a leading
    /// `-o ` is accepted too). No spaces around `=` or `,`.
    #[must_use]
    pub fn inbound_options(mut self, options: &[&str]) -> Self {
        self.inbound_options.extend(
            options
                .iter()
                .map(|o| o.trim().trim_start_matches("-o ").trim().to_owned()),
        );
        self
    }

    /// Declare a named port that this Postfix listens on (for example a
    /// re-injection smtpd), usable as `{{port:NAME}}`; read it back with
    /// [`Postfix::port`]. For a port that *your* code listens on (a filter
    /// under test), bind your own listener and write its port literally.
    #[must_use]
    pub fn port(mut self, name: &str) -> Self {
        if !self.ports.iter().any(|p| p == name) && name != SMTP_PORT {
            self.ports.push(name.to_owned());
        }
        self
    }

    /// How long to wait for the `220` greeting (default [`START_TIMEOUT`]).
    #[must_use]
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = Some(timeout);
        self
    }

    /// Whether `start` opens one SMTP session to the inbound smtpd (read the
    /// greeting, `QUIT`) to prove it runs (default `true`). A milter or
    /// proxy filter on that smtpd sees this session; turn the probe off when
    /// a test records every session. Without it, `start` relies on
    /// `postfix start` having bound every listener (master(8) `-w`).
    #[must_use]
    pub fn probe_greeting(mut self, on: bool) -> Self {
        self.no_probe = !on;
        self
    }

    /// Create the directory, write the configuration, run `postfix check`
    /// and `postfix start`, and wait for the inbound smtpd's `220`.
    ///
    /// Fails (never skips) if not root or if Postfix or swaks is missing.
    pub fn start(self) -> Result<Postfix> {
        check_prerequisites()?;
        let domains = if self.domains.is_empty() {
            vec![DEFAULT_DOMAIN.to_owned()]
        } else {
            self.domains.clone()
        };
        for d in &domains {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(Error::Config(format!("bad domain {d:?}")));
            }
        }
        for m in &self.mailboxes {
            if m.is_empty()
                || m.starts_with('.')
                || m.contains(['/', ' ', '\t', '\n', ','])
                || m == "catchall"
                || m == "bounces"
            {
                return Err(Error::Config(format!(
                    "bad mailbox name {m:?} (must be a plain Maildir name, not catchall/bounces)"
                )));
            }
        }

        reap_orphans();
        let (dir, seq) = create_instance_dir()?;
        let hostname = format!("mx{seq}-p{}.phishgate.test", std::process::id());
        let mut pf = Postfix {
            etc: dir.join("etc"),
            dir,
            hostname,
            ports: BTreeMap::new(),
            domains,
            running: false,
            keep: std::env::var(KEEP_ENV).is_ok_and(|v| v == "1"),
        };
        pf.prepare_dirs()?;
        pf.write_vmailbox(
            &self.mailboxes,
            self.catch_all.unwrap_or(self.mailboxes.is_empty()),
        )?;

        let mut last_error = None;
        for _attempt in 0..START_ATTEMPTS {
            let mut ports = BTreeMap::new();
            ports.insert(SMTP_PORT.to_owned(), alloc_port()?);
            for name in &self.ports {
                ports.insert(name.clone(), alloc_port()?);
            }
            pf.ports = ports;
            let main_cf = pf.render_main_cf(&self.main_cf)?;
            let master_cf = pf.render_master_cf(&self.inbound_options, &self.master_cf)?;
            write_config_file(&pf.etc.join("main.cf"), main_cf.as_bytes())?;
            write_config_file(&pf.etc.join("master.cf"), master_cf.as_bytes())?;
            pf.postfix(&["check"])?;
            // `postfix start` would run the same checks again (two shell
            // scripts, ~100 processes); `quick-start` tells postfix-script
            // that they have just been done. It removes the file itself.
            write_file(&pf.dir.join("spool/quick-start"), b"")?;
            match pf.postfix(&["start"]) {
                Ok(_) => {
                    pf.running = true;
                    break;
                }
                Err(e) => {
                    // master(8) reports bind failures to syslog only; find
                    // out ourselves whether one of the ports was taken.
                    let taken: Vec<u16> = pf
                        .ports
                        .values()
                        .copied()
                        .filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_err())
                        .collect();
                    if taken.is_empty() {
                        return Err(Error::Config(format!(
                            "postfix did not start and no port was taken: {e}\n{}",
                            pf.log_tail(30)
                        )));
                    }
                    last_error = Some(e);
                }
            }
        }
        if !pf.running {
            return Err(Error::Config(format!(
                "postfix did not start after {START_ATTEMPTS} attempts with fresh ports: {}",
                last_error.map_or_else(String::new, |e| e.to_string())
            )));
        }
        if !self.no_probe {
            pf.wait_for_greeting(self.start_timeout.unwrap_or(START_TIMEOUT))?;
        }
        Ok(pf)
    }
}

/// A running throw-away Postfix. Dropping it stops Postfix and removes its
/// directory (unless [`KEEP_ENV`] is `1`); if the thread is panicking, the
/// queue and the log tail are printed first.
#[derive(Debug)]
pub struct Postfix {
    dir: PathBuf,
    etc: PathBuf,
    hostname: String,
    ports: BTreeMap<String, u16>,
    domains: Vec<String>,
    running: bool,
    keep: bool,
}

impl Postfix {
    /// The inbound smtpd's address (`127.0.0.1:port`).
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.smtp_port()))
    }

    /// The inbound smtpd's port.
    pub fn smtp_port(&self) -> u16 {
        self.ports.get(SMTP_PORT).copied().unwrap_or(0)
    }

    /// A port declared with [`PostfixBuilder::port`] (or `"smtp"`).
    pub fn port(&self, name: &str) -> Option<u16> {
        self.ports.get(name).copied()
    }

    /// The instance directory (`etc/`, `spool/`, `data/`, `vmail/`,
    /// `postfix.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration directory, for `-c`.
    pub fn config_dir(&self) -> &Path {
        &self.etc
    }

    /// This instance's `myhostname`.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The virtual mailbox domains (without [`SENDER_DOMAIN`]).
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// The whole maillog file (empty if not written yet).
    pub fn log(&self) -> String {
        std::fs::read(self.dir.join("postfix.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Wait until the log contains `needle`; returns the log.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String> {
        self.poll(&format!("{needle:?} in the log"), timeout, || {
            let log = self.log();
            Ok(log.contains(needle).then_some(log))
        })
    }

    /// `postfix reload`: re-read main.cf, master.cf and the texthash tables.
    pub fn reload(&self) -> Result<()> {
        self.postfix(&["reload"]).map(drop)
    }

    /// `postconf -e 'name = value'` on this instance's main.cf. Takes effect
    /// after [`reload`](Self::reload) (or at once for new processes).
    pub fn postconf_set(&self, name: &str, value: &str) -> Result<()> {
        self.run(POSTCONF, &["-e", &format!("{name} = {value}")])?;
        backdate(&self.etc.join("main.cf"))
    }

    /// Write a file into the configuration directory (for example a
    /// `texthash:` or `regexp:` table that extra main.cf lines name as
    /// `{{dir}}/etc/NAME`), backdated so Postfix reads it without delay.
    /// Tables are read when a process starts: [`reload`](Self::reload).
    pub fn write_etc_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        let path = self.etc.join(name);
        write_config_file(&path, contents)?;
        Ok(path)
    }

    /// `postconf -h name`: the value in effect.
    pub fn postconf_get(&self, name: &str) -> Result<String> {
        let out = self.run(POSTCONF, &["-h", name])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    }

    /// Stop Postfix (`postfix stop`, then kill whatever is left of its
    /// process group). Idempotent. The directory stays until drop.
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        let master = self.master_pid();
        let result = self.postfix(&["stop"]);
        if let Some(pid) = master {
            let deadline = Instant::now() + Duration::from_secs(5);
            while group_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if group_alive(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .output();
            }
        }
        self.running = false;
        result.map(drop)
    }

    /// Send one message with swaks to the inbound smtpd. `Err` only if swaks
    /// could not be run; refusals are in the [`SwaksResult`].
    pub fn send_swaks(&self, spec: &SendSpec) -> Result<SwaksResult> {
        self.send_swaks_to(self.smtp_addr(), spec)
    }

    /// Like [`send_swaks`](Self::send_swaks) to another address (for
    /// example a re-injection port).
    pub fn send_swaks_to(&self, addr: SocketAddr, spec: &SendSpec) -> Result<SwaksResult> {
        if spec.data.is_empty() {
            return Err(Error::Config("SendSpec::data is empty".to_owned()));
        }
        if spec.to.is_empty() {
            return Err(Error::Config("SendSpec::to is empty".to_owned()));
        }
        // swaks with --no-data-fixup sends the file as is and then "\r\n":
        // give it the dot-stuffed message ending in "\r\n." (no CRLF).
        let mut payload = crate::smtp::dot_stuff(&spec.data);
        payload.truncate(payload.len().saturating_sub(2));
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let file = self.dir.join(format!("swaks-{n}.eml"));
        write_file(&file, &payload)?;
        let swaks =
            find_swaks().ok_or_else(|| Error::Prerequisite("swaks is not installed".to_owned()))?;
        let mut args: Vec<String> = vec![
            "--server".into(),
            addr.ip().to_string(),
            "--port".into(),
            addr.port().to_string(),
            "--ehlo".into(),
            spec.ehlo.clone(),
            "--from".into(),
            spec.from.clone(),
            "--to".into(),
            spec.to.join(","),
            "--data".into(),
            format!("@{}", file.display()),
            "--no-data-fixup".into(),
            "--timeout".into(),
            "60".into(),
        ];
        args.extend(spec.extra_args.iter().cloned());
        let out = Command::new(&swaks)
            .args(&args)
            .output()
            .map_err(|e| Error::io(format!("running {}", swaks.display()), e))?;
        let _ = std::fs::remove_file(&file);
        let mut transcript = String::from_utf8_lossy(&out.stdout).into_owned();
        transcript.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(SwaksResult::parse(out.status.code(), transcript))
    }

    /// Send messages on one connection with the in-process client
    /// ([`send_raw_smtp`]), `EHLO client.sender.test`.
    pub fn send_raw(&self, messages: &[Message]) -> Result<Vec<ReplyOutcome>> {
        send_raw_smtp(
            self.smtp_addr(),
            &format!("client.{SENDER_DOMAIN}"),
            messages,
        )
    }

    /// The Maildir directory of a mailbox (`catchall`, `bounces`, or a name
    /// given to [`PostfixBuilder::mailbox`]).
    pub fn maildir_path(&self, mailbox: &str) -> PathBuf {
        self.dir.join("vmail").join(mailbox)
    }

    /// The messages in a mailbox's `new/` and `cur/`, oldest first.
    pub fn maildir(&self, mailbox: &str) -> Vec<Delivered> {
        read_maildir(&self.maildir_path(mailbox))
    }

    /// Wait until a mailbox holds at least `count` messages; on timeout the
    /// error shows the queue, the log tail and every Maildir.
    pub fn wait_for_maildir(
        &self,
        mailbox: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Delivered>> {
        self.poll(
            &format!("{count} message(s) in Maildir {mailbox:?}"),
            timeout,
            || {
                let got = self.maildir(mailbox);
                Ok((got.len() >= count).then_some(got))
            },
        )
    }

    /// The queue (`postqueue -j`).
    pub fn queue(&self) -> Result<Vec<QueueEntry>> {
        let out = self.run(POSTQUEUE, &["-j"])?;
        parse_postqueue_json(&String::from_utf8_lossy(&out.stdout))
    }

    /// Wait until `pred` holds for the queue; returns that queue.
    pub fn wait_for_queue(
        &self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&[QueueEntry]) -> bool,
    ) -> Result<Vec<QueueEntry>> {
        self.poll(what, timeout, || {
            let q = self.queue()?;
            Ok(pred(&q).then_some(q))
        })
    }

    /// Wait until the queue is empty.
    pub fn wait_until_queue_empty(&self, timeout: Duration) -> Result<()> {
        self.wait_for_queue("an empty queue", timeout, <[QueueEntry]>::is_empty)
            .map(drop)
    }

    /// `postqueue -f`: retry deferred mail now.
    pub fn flush(&self) -> Result<()> {
        self.run(POSTQUEUE, &["-f"]).map(drop)
    }

    /// `postsuper -h QID`: put a message on hold.
    pub fn hold(&self, queue_id: &str) -> Result<()> {
        self.run(POSTSUPER, &["-h", queue_id]).map(drop)
    }

    /// `postsuper -H QID`: release a message from hold.
    pub fn release_hold(&self, queue_id: &str) -> Result<()> {
        self.run(POSTSUPER, &["-H", queue_id]).map(drop)
    }

    /// `postsuper -d ALL`: empty the queue.
    pub fn delete_all(&self) -> Result<()> {
        self.run(POSTSUPER, &["-d", "ALL"]).map(drop)
    }

    /// The state of the instance, for failure messages: queue, Maildirs,
    /// log tail.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("--- Postfix instance {} ---\n", self.dir.display());
        s.push_str("--- queue (postqueue -j) ---\n");
        match self.run(POSTQUEUE, &["-j"]) {
            Ok(out) if out.stdout.is_empty() => s.push_str("(empty)\n"),
            Ok(out) => s.push_str(&String::from_utf8_lossy(&out.stdout)),
            Err(e) => s.push_str(&format!("{e}\n")),
        }
        s.push_str("--- Maildirs ---\n");
        if let Ok(entries) = std::fs::read_dir(self.dir.join("vmail")) {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                s.push_str(&format!(
                    "{name}: {} message(s)\n",
                    self.maildir(&name).len()
                ));
            }
        }
        s.push_str(&self.log_tail(40));
        s
    }

    fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines
            .get(lines.len().saturating_sub(n)..)
            .unwrap_or_default();
        format!(
            "--- last {} log lines ({}) ---\n{}\n",
            tail.len(),
            self.dir.join("postfix.log").display(),
            tail.join("\n")
        )
    }

    fn poll<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{what} (after {timeout:?})"),
                    details: self.diagnostics(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output> {
        let etc = self.etc.to_string_lossy().into_owned();
        let mut full = vec!["-c", etc.as_str()];
        full.extend_from_slice(args);
        run_command(program, &full)
    }

    fn postfix(&self, args: &[&str]) -> Result<Output> {
        self.run(POSTFIX, args)
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("spool/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn prepare_dirs(&self) -> Result<()> {
        for sub in ["etc", "spool", "data", "vmail"] {
            let p = self.dir.join(sub);
            std::fs::create_dir(&p)
                .map_err(|e| Error::io(format!("creating {}", p.display()), e))?;
            set_mode(&p, 0o755)?;
        }
        let postfix_uid = user_id("postfix")?;
        let data = self.dir.join("data");
        // master.lock lives here and postfix must own it.
        std::os::unix::fs::chown(&data, Some(postfix_uid), None)
            .map_err(|e| Error::io(format!("chown postfix {}", data.display()), e))?;
        let vmail = self.dir.join("vmail");
        std::os::unix::fs::chown(&vmail, Some(VMAIL_ID), Some(VMAIL_ID)).map_err(|e| {
            Error::io(
                format!("chown {VMAIL_ID}:{VMAIL_ID} {}", vmail.display()),
                e,
            )
        })
    }

    fn write_vmailbox(&self, mailboxes: &[String], catch_all: bool) -> Result<()> {
        let mut map = String::new();
        for m in mailboxes {
            if m.contains('@') {
                map.push_str(&format!("{m} {m}/\n"));
            } else {
                for d in &self.domains {
                    map.push_str(&format!("{m}@{d} {m}/\n"));
                }
            }
        }
        if catch_all {
            for d in &self.domains {
                map.push_str(&format!("@{d} catchall/\n"));
            }
        }
        map.push_str(&format!("@{SENDER_DOMAIN} bounces/\n"));
        write_config_file(&self.etc.join("vmailbox"), map.as_bytes())
    }

    fn substitute(&self, text: &str) -> Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let end = after
                .find("}}")
                .ok_or_else(|| Error::Config(format!("unclosed placeholder in {text:?}")))?;
            let key = after.get(..end).unwrap_or_default().trim();
            let value = if key == "dir" {
                self.dir.display().to_string()
            } else if key == "hostname" {
                self.hostname.clone()
            } else if let Some(name) = key.strip_prefix("port:") {
                self.ports
                    .get(name)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "placeholder {{{{port:{name}}}}} names an undeclared port; call .port({name:?})"
                        ))
                    })?
                    .to_string()
            } else {
                return Err(Error::Config(format!("unknown placeholder {{{{{key}}}}}")));
            };
            out.push_str(&value);
            rest = after.get(end + 2..).unwrap_or_default();
        }
        out.push_str(rest);
        Ok(out)
    }

    fn render_main_cf(&self, extras: &[String]) -> Result<String> {
        let d = self.dir.display();
        let mut domains = self.domains.clone();
        domains.push(SENDER_DOMAIN.to_owned());
        let defaults: Vec<(&str, String)> = vec![
            ("compatibility_level", "3.6".into()),
            ("queue_directory", format!("{d}/spool")),
            ("data_directory", format!("{d}/data")),
            ("myhostname", self.hostname.clone()),
            ("mydomain", "phishgate.test".into()),
            ("myorigin", "$myhostname".into()),
            ("mydestination", "localhost".into()),
            ("inet_interfaces", "loopback-only".into()),
            ("inet_protocols", "ipv4".into()),
            ("mynetworks", "127.0.0.0/8".into()),
            ("alias_maps", String::new()),
            ("alias_database", String::new()),
            ("smtputf8_enable", "yes".into()),
            ("maillog_file_prefixes", format!("/var, /dev/stdout, {d}")),
            ("maillog_file", format!("{d}/postfix.log")),
            ("virtual_mailbox_domains", domains.join(", ")),
            ("virtual_mailbox_base", format!("{d}/vmail")),
            ("virtual_mailbox_maps", format!("texthash:{d}/etc/vmailbox")),
            ("virtual_uid_maps", format!("static:{VMAIL_ID}")),
            ("virtual_gid_maps", format!("static:{VMAIL_ID}")),
            ("notify_classes", String::new()),
            (
                "default_transport",
                "error:5.3.0 phishgate-testkit delivers only to its test domains".into(),
            ),
            (
                "relay_transport",
                "error:5.3.0 phishgate-testkit delivers only to its test domains".into(),
            ),
            ("smtpd_error_sleep_time", "0".into()),
            ("in_flow_delay", "0".into()),
            ("biff", "no".into()),
            ("append_dot_mydomain", "no".into()),
        ];
        let mut params: Vec<(String, String)> = defaults
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for extra in extras {
            for (name, value) in parse_main_cf(&self.substitute(extra)?)? {
                match params.iter_mut().find(|(k, _)| *k == name) {
                    Some(slot) => slot.1 = value,
                    None => params.push((name, value)),
                }
            }
        }
        let mut out = String::from("# written by phishgate-testkit\n");
        for (k, v) in params {
            if v.is_empty() {
                out.push_str(&format!("{k} =\n"));
            } else {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        Ok(out)
    }

    fn render_master_cf(&self, inbound: &[String], extras: &[String]) -> Result<String> {
        let mut first = format!("127.0.0.1:{} inet n - n - - smtpd", self.smtp_port());
        for o in inbound {
            first.push_str("\n    -o ");
            first.push_str(&self.substitute(o)?);
        }
        let mut services: Vec<String> = vec![first];
        services.extend(BASE_SERVICES.iter().map(|s| (*s).to_owned()));
        for extra in extras {
            for entry in split_master_entries(&self.substitute(extra)?) {
                let key = master_key(&entry);
                match services.iter_mut().find(|s| master_key(s) == key) {
                    Some(slot) => *slot = entry,
                    None => services.push(entry),
                }
            }
        }
        let mut out = String::from("# written by phishgate-testkit\n");
        for s in services {
            out.push_str(&s);
            out.push('\n');
        }
        Ok(out)
    }

    fn wait_for_greeting(&self, timeout: Duration) -> Result<()> {
        let addr = self.smtp_addr();
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            match greeting(addr) {
                // Any reply proves smtpd runs (a test may configure a 554
                // greeting); a config error makes smtpd die before one.
                Ok(line)
                    if line.get(..3).is_some_and(|c| c.parse::<u16>().is_ok())
                        && matches!(line.as_bytes().get(3), Some(b' ' | b'-')) =>
                {
                    return Ok(())
                }
                Ok(line) => last = format!("greeting {line:?}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Error::Timeout {
            what: format!(
                "the 220 greeting of {} on {addr} (last: {last})",
                self.hostname
            ),
            details: self.diagnostics(),
        })
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "phishgate-testkit: the test panicked; state of the instance:\n{}",
                self.diagnostics()
            );
        }
        if let Err(e) = self.stop() {
            eprintln!("phishgate-testkit: stopping {}: {e}", self.dir.display());
        }
        if self.keep {
            let _ = std::fs::write(self.dir.join(KEPT_MARKER), b"");
            eprintln!(
                "phishgate-testkit: kept Postfix instance directory {} ({KEEP_ENV}=1)",
                self.dir.display()
            );
            return;
        }
        for _ in 0..20 {
            match std::fs::remove_dir_all(&self.dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return,
            }
        }
        eprintln!("phishgate-testkit: could not remove {}", self.dir.display());
    }
}

/// The services every instance has (§5.2 of the reference: all `chroot = n`).
const BASE_SERVICES: &[&str] = &[
    "pickup    unix  n       -       n       60      1       pickup",
    "cleanup   unix  n       -       n       -       0       cleanup",
    "qmgr      unix  n       -       n       300     1       qmgr",
    "rewrite   unix  -       -       n       -       -       trivial-rewrite",
    "bounce    unix  -       -       n       -       0       bounce",
    "defer     unix  -       -       n       -       0       bounce",
    "trace     unix  -       -       n       -       0       bounce",
    "verify    unix  -       -       n       -       1       verify",
    "flush     unix  n       -       n       1000?   0       flush",
    "proxymap  unix  -       -       n       -       -       proxymap",
    "proxywrite unix -       -       n       -       1       proxymap",
    "smtp      unix  -       -       n       -       -       smtp",
    "relay     unix  -       -       n       -       -       smtp",
    "showq     unix  n       -       n       -       -       showq",
    "error     unix  -       -       n       -       -       error",
    "retry     unix  -       -       n       -       -       error",
    "discard   unix  -       -       n       -       -       discard",
    "local     unix  -       n       n       -       -       local",
    "virtual   unix  -       n       n       -       -       virtual",
    "lmtp      unix  -       -       n       -       -       lmtp",
    "anvil     unix  -       -       n       -       1       anvil",
    "scache    unix  -       -       n       -       1       scache",
    "postlog   unix-dgram n  -       n       -       1       postlogd",
];

/// Parse main.cf text into `(name, value)` pairs.
fn parse_main_cf(text: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = out.last_mut() else {
                return Err(Error::Config(format!(
                    "main.cf continuation line without a parameter: {line:?}"
                )));
            };
            value.push(' ');
            value.push_str(trimmed);
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(Error::Config(format!(
                "main.cf line is not `name = value`: {line:?}"
            )));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(Error::Config(format!(
                "bad main.cf parameter name in {line:?}"
            )));
        }
        out.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(out)
}

/// Split master.cf text into service entries (a line plus its continuation
/// lines), dropping comments and blank lines.
fn split_master_entries(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match out.last_mut() {
            Some(entry) if line.starts_with([' ', '\t']) => {
                entry.push('\n');
                entry.push_str(line.trim_end());
            }
            _ => out.push(line.trim().to_owned()),
        }
    }
    out
}

/// `(service, type)` of a master.cf entry.
fn master_key(entry: &str) -> (String, String) {
    let mut words = entry.split_whitespace();
    (
        words.next().unwrap_or("").to_owned(),
        words.next().unwrap_or("").to_owned(),
    )
}

fn greeting(addr: SocketAddr) -> std::io::Result<String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut writer = stream.try_clone()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let _ = writer.write_all(b"QUIT\r\n");
    Ok(line.trim_end().to_owned())
}

fn run_command(program: &str, args: &[&str]) -> Result<Output> {
    let cmdline = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error::io(format!("running `{cmdline}`"), e))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(Error::command(cmdline, &out))
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Write a file Postfix reads (main.cf, master.cf, a texthash table) and
/// set its mtime 10 s into the past: Postfix's file loader (dict_load_file)
/// treats a file modified within the last second as "still being written"
/// and sleeps 300 ms per retry until it is older, which costs ~2 s per
/// command after every write.
fn write_config_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes)?;
    backdate(path)
}

fn backdate(path: &Path) -> Result<()> {
    let past = std::time::SystemTime::now() - Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(past))
        .map_err(|e| Error::io(format!("setting the mtime of {}", path.display()), e))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {mode:o} {}", path.display()), e))
}

/// Marks a kept directory, so that [`reap_orphans`] leaves it alone.
const KEPT_MARKER: &str = "kept";
const DIR_PREFIX: &str = "phishgate-postfix-";

/// Stop and remove instances whose test process died without dropping
/// them (killed by a timeout, `SIGKILL`, abort): directories
/// `phishgate-postfix-<pid>-<n>` whose `<pid>` no longer exists and that
/// were not kept on purpose. Errors are ignored; another process may be
/// reaping the same directory.
fn reap_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        if Path::new(&format!("/proc/{owner}")).exists() || dir.join(KEPT_MARKER).exists() {
            continue;
        }
        let master = std::fs::read_to_string(dir.join("spool/pid/master.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        if master.is_some_and(group_alive) {
            let etc = dir.join("etc");
            let _ = Command::new(POSTFIX)
                .arg("-c")
                .arg(&etc)
                .arg("stop")
                .output();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn create_instance_dir() -> Result<(PathBuf, u64)> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{DIR_PREFIX}{pid}-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                set_mode(&dir, 0o755)?;
                return Ok((dir, n));
            }
            // A leftover of an earlier process with the same pid.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
        }
    }
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn user_id(name: &str) -> Result<u32> {
    let passwd =
        std::fs::read_to_string("/etc/passwd").map_err(|e| Error::io("reading /etc/passwd", e))?;
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name))
                .then(|| f.nth(1).and_then(|uid| uid.parse().ok()))
                .flatten()
        })
        .ok_or_else(|| {
            Error::Prerequisite(format!(
                "user {name:?} not found in /etc/passwd (is the postfix package installed?)"
            ))
        })
}

fn find_swaks() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/local/bin".into()])
        .map(|d: PathBuf| d.join("swaks"))
        .find(|p| p.is_file())
}

fn check_prerequisites() -> Result<()> {
    let mut missing = Vec::new();
    match effective_uid() {
        Some(0) => {}
        Some(uid) => missing.push(format!(
            "the Postfix end-to-end tests must run as root (effective uid is {uid})"
        )),
        None => missing.push("cannot read the effective uid from /proc/self/status".to_owned()),
    }
    for p in [POSTFIX, POSTCONF, POSTQUEUE, POSTSUPER] {
        if !Path::new(p).is_file() {
            missing.push(format!("{p} is missing (apt-get install postfix)"));
        }
    }
    if find_swaks().is_none() {
        missing.push("swaks is missing (apt-get install swaks)".to_owned());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Prerequisite(missing.join("; ")))
    }
}

/// Is any live (non-zombie) process left in process group `pgid`?
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ..."; comm may contain spaces.
        let Some((_, after)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut f = after.split_whitespace();
        let state = f.next().unwrap_or("Z");
        let pgrp = f.nth(1).and_then(|g| g.parse::<u32>().ok());
        state != "Z" && state != "X" && pgrp == Some(pgid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> Postfix {
        let mut ports = BTreeMap::new();
        ports.insert("smtp".to_owned(), 2525);
        ports.insert("reinject".to_owned(), 10026);
        Postfix {
            dir: PathBuf::from("/tmp/x"),
            etc: PathBuf::from("/tmp/x/etc"),
            hostname: "mx0.phishgate.test".into(),
            ports,
            domains: vec!["laocai.gov.vn".into()],
            running: false,
            keep: true,
        }
    }

    #[test]
    fn main_cf_overrides_in_place() {
        let pf = fake();
        let out = pf
            .render_main_cf(&["smtputf8_enable = no\nsmtpd_milters = inet:127.0.0.1:{{port:reinject}}\n  # c\n  , x\n".to_owned()])
            .unwrap();
        assert!(out.contains("\nsmtputf8_enable = no\n"));
        assert!(!out.contains("smtputf8_enable = yes"));
        assert!(out.contains("smtpd_milters = inet:127.0.0.1:10026 , x\n"));
        assert!(out.contains("notify_classes =\n"));
        assert!(pf.render_main_cf(&["bogus line".to_owned()]).is_err());
        assert!(pf
            .render_main_cf(&["a = {{port:nope}}".to_owned()])
            .is_err());
        assert!(pf.render_main_cf(&["a = {{what}}".to_owned()]).is_err());
    }

    #[test]
    fn master_cf_merges_services() {
        let pf = fake();
        let out = pf
            .render_master_cf(
                &["content_filter=scan:[127.0.0.1]:9".to_owned()],
                &["scan unix - - n - 10 smtp\n  -o smtp_send_xforward_command=yes\n127.0.0.1:{{port:reinject}} inet n - n - 10 smtpd\n    -o content_filter=\nsmtp unix - - n - 3 smtp".to_owned()],
            )
            .unwrap();
        assert!(out.starts_with("# written by phishgate-testkit\n127.0.0.1:2525 inet n - n - - smtpd\n    -o content_filter=scan:[127.0.0.1]:9\n"));
        assert!(out.contains("\nscan unix - - n - 10 smtp\n  -o smtp_send_xforward_command=yes\n"));
        assert!(out.contains("\n127.0.0.1:10026 inet n - n - 10 smtpd\n    -o content_filter=\n"));
        assert!(out.contains("\nsmtp unix - - n - 3 smtp\n"));
        assert_eq!(out.matches("\nsmtp ").count(), 1);
    }

    #[test]
    fn ports_are_not_handed_out_twice() {
        let a = alloc_port().unwrap();
        let b = alloc_port().unwrap();
        assert_ne!(a, b);
        let c = unused_port().unwrap();
        let d = unused_port().unwrap();
        assert_ne!(c, d);
        assert!((1024..32768).contains(&c) && d < 32768, "{c} {d}");
        assert!(TcpListener::bind(("127.0.0.1", c)).is_ok());
    }
}
