//! A tiny SMTP server (std threads) that records what it receives: a
//! stand-in for a content filter or a downstream relay in tests.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// One message an [`SmtpSink`] received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkMessage {
    /// The `EHLO`/`HELO` argument.
    pub helo: String,
    /// `XFORWARD` command arguments received in this session, in order.
    pub xforward: Vec<String>,
    /// The `MAIL FROM` address (without `<>`; `""` for the null sender).
    pub from: String,
    /// The `MAIL FROM` parameters after the address (`BODY=8BITMIME`, …).
    pub mail_params: String,
    /// The `RCPT TO` addresses, in order.
    pub to: Vec<String>,
    /// The message, dot-unstuffed, without the final `.` line, line endings
    /// as received.
    pub data: Vec<u8>,
}

type Handler = dyn Fn(&SinkMessage) -> String + Send + Sync;

/// A recording SMTP server on `127.0.0.1`. It advertises `8BITMIME`,
/// `SMTPUTF8`, `PIPELINING`, `ENHANCEDSTATUSCODES` and `XFORWARD`, accepts
/// every command, and answers the end of data with what the handler returns.
/// Dropping it closes the listener.
pub struct SmtpSink {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<SinkMessage>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish()
    }
}

impl SmtpSink {
    /// A sink on a free port that accepts every message with `250`.
    pub fn accept_all() -> Result<Self> {
        Self::start(|_| "250 2.0.0 Ok: kept by the test sink".to_owned())
    }

    /// A sink on a free port. `handler` gets each message at the end of data
    /// and returns the reply, e.g. `"250 2.0.0 Ok"` or
    /// `"451 4.3.0 try again"` (several lines: join them with `\r\n`).
    pub fn start(handler: impl Fn(&SinkMessage) -> String + Send + Sync + 'static) -> Result<Self> {
        Self::start_on(0, handler)
    }

    /// Like [`SmtpSink::start`], on a given port (`0` = any free one).
    pub fn start_on(
        port: u16,
        handler: impl Fn(&SinkMessage) -> String + Send + Sync + 'static,
    ) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| Error::io(format!("binding the SMTP sink to 127.0.0.1:{port}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the sink's address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("configuring the sink's listener", e))?;
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let messages = Arc::clone(&messages);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let messages = Arc::clone(&messages);
                            let handler = Arc::clone(&handler);
                            std::thread::spawn(move || {
                                let _ = serve(stream, &messages, &*handler);
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Ok(SmtpSink {
            addr,
            messages,
            stop,
            thread: Some(thread),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far (recorded when its data is complete,
    /// before the handler runs).
    pub fn messages(&self) -> Vec<SinkMessage> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Wait until at least `count` messages have arrived.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Result<Vec<SinkMessage>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= count {
                return Ok(got);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{count} message(s) at the SMTP sink {}", self.addr),
                    details: format!("it received {}", got.len()),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    messages: &Mutex<Vec<SinkMessage>>,
    handler: &Handler,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut say = |text: &str| -> std::io::Result<()> {
        out.write_all(text.as_bytes())?;
        out.write_all(b"\r\n")?;
        out.flush()
    };
    say("220 sink.phishgate.test ESMTP test sink")?;
    let mut session = SinkMessage::default();
    loop {
        let mut raw = Vec::new();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                session = SinkMessage {
                    helo: arg.to_owned(),
                    ..SinkMessage::default()
                };
                say("250-sink.phishgate.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT")?;
            }
            "HELO" => {
                session.helo = arg.to_owned();
                say("250 sink.phishgate.test")?;
            }
            "XFORWARD" => {
                session.xforward.push(arg.to_owned());
                say("250 2.0.0 Ok")?;
            }
            "MAIL" => {
                let (addr, params) = angle_arg(arg);
                session.from = addr;
                session.mail_params = params;
                session.to.clear();
                say("250 2.1.0 Ok")?;
            }
            "RCPT" => {
                session.to.push(angle_arg(arg).0);
                say("250 2.1.5 Ok")?;
            }
            "DATA" => {
                say("354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if reader.read_until(b'\n', &mut l)? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" || l == b".\n" {
                        break;
                    }
                    let unstuffed = if l.first() == Some(&b'.') {
                        l.get(1..).unwrap_or_default()
                    } else {
                        &l[..]
                    };
                    data.extend_from_slice(unstuffed);
                }
                let mut msg = session.clone();
                msg.data = data;
                // Record first: the handler may cause effects (a
                // re-injection, a delivery) that a test sees before the
                // handler returns.
                messages
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(msg.clone());
                let reply = handler(&msg);
                say(&reply)?;
                session.from.clear();
                session.mail_params.clear();
                session.to.clear();
            }
            "RSET" => {
                session.from.clear();
                session.to.clear();
                say("250 2.0.0 Ok")?;
            }
            "NOOP" => say("250 2.0.0 Ok")?,
            "QUIT" => {
                say("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => say("502 5.5.2 Error: command not recognized")?,
        }
    }
}

/// `"FROM:<a@b> BODY=8BITMIME"` → (`"a@b"`, `"BODY=8BITMIME"`).
fn angle_arg(arg: &str) -> (String, String) {
    let after_colon = arg.split_once(':').map_or(arg, |(_, r)| r).trim_start();
    if let Some(rest) = after_colon.strip_prefix('<') {
        if let Some((addr, params)) = rest.split_once('>') {
            return (addr.to_owned(), params.trim().to_owned());
        }
    }
    let (addr, params) = after_colon.split_once(' ').unwrap_or((after_colon, ""));
    (addr.to_owned(), params.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::{send_raw_smtp, Message};

    #[test]
    fn angle_args() {
        assert_eq!(
            angle_arg("FROM:<a@b> BODY=8BITMIME"),
            ("a@b".to_owned(), "BODY=8BITMIME".to_owned())
        );
        assert_eq!(angle_arg("TO:<>"), (String::new(), String::new()));
    }

    #[test]
    fn sink_round_trip_with_raw_client() {
        let sink = SmtpSink::start(|m| {
            if m.to.iter().any(|t| t.starts_with("tempfail")) {
                "451 4.3.0 later".to_owned()
            } else {
                "250 2.0.0 Ok".to_owned()
            }
        })
        .unwrap();
        let out = send_raw_smtp(
            sink.addr(),
            "client.test",
            &[
                Message::new("a@x", &["b@y"], "Subject: 1\r\n\r\n.dot\r\nend\r\n"),
                Message::new("", &["tempfail@y"], "Subject: 2\r\n\r\nx"),
            ],
        )
        .unwrap();
        assert!(out[0].accepted());
        assert_eq!(out[1].final_code(), 451);
        assert_eq!(out[1].rset.as_ref().unwrap().code, 250);
        let got = sink.wait_for_messages(2, Duration::from_secs(5)).unwrap();
        assert_eq!(got[0].data, b"Subject: 1\r\n\r\n.dot\r\nend\r\n");
        assert_eq!(got[1].data, b"Subject: 2\r\n\r\nx\r\n");
        assert_eq!(got[1].from, "");
        assert_eq!(got[0].helo, "client.test");
    }
}
