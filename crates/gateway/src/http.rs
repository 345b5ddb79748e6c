//! The HTTP API: Rspamd-compatible `POST /checkv2`, phishgate's own
//! `POST /api/v1/scan`, `GET /ping` and `GET /metrics`.
//!
//! [`router`] builds the whole API from shared state so tests can call it
//! with `oneshot` and no socket (see `tests/http.rs`). Malformed requests get
//! a 4xx with a JSON body `{"error": "..."}`; a scan that fails follows
//! `[gateway] http_on_error` and is reported in the reply, never as a 5xx.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use phishgate_core::{Action, Envelope, Facts, Lang};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

use crate::disposition::{banner_body, rewrite_message, OUR_HEADERS};
use crate::metrics::Interface;
use crate::scanner::{Outcome, Scanner};
use crate::settings::OnError;

/// Shared state of the API.
#[derive(Clone)]
pub struct ApiState {
    scanner: Arc<Scanner>,
    slots: Arc<Semaphore>,
}

impl ApiState {
    /// State over a scanner; at most `max_requests` scans at once (more get 503).
    pub fn new(scanner: Arc<Scanner>, max_requests: usize) -> ApiState {
        ApiState {
            scanner,
            slots: Arc::new(Semaphore::new(max_requests.max(1))),
        }
    }
}

/// The whole API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/metrics", get(metrics))
        .route("/checkv2", any(checkv2))
        .route("/api/v1/scan", any(api_scan))
        .fallback(not_found)
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"error": message.into(), "error_domain": "protocol-error"});
    (status, axum::Json(body)).into_response()
}

async fn not_found(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "invalid command: {} (try /checkv2, /api/v1/scan, /ping, /metrics)",
            uri.path()
        ),
    )
}

async fn ping() -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        "pong\r\n",
    )
        .into_response()
}

async fn metrics(State(st): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        st.scanner.metrics.render(),
    )
        .into_response()
}

/// Decodes `%XX` and `+` in a query component.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if c == b'+' { b' ' } else { c });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Request parameters: HTTP headers, plus query-string parameters (Rspamd
/// copies those into request headers too).
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn new(headers: &HeaderMap, uri: &Uri) -> Result<Params, String> {
        let mut pairs = Vec::new();
        for (name, value) in headers {
            // UTF-8 (SMTPUTF8 recipients) or anything else: never a reason to
            // refuse the request; headers the API does not use are ignored.
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            pairs.push((name.as_str().to_ascii_lowercase(), v));
        }
        if let Some(q) = uri.query() {
            for kv in q.split('&').filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                pairs.push((percent_decode(k).to_ascii_lowercase(), percent_decode(v)));
            }
        }
        Ok(Params { pairs })
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn envelope(&self) -> Envelope {
        let strip = |s: &str| {
            s.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        };
        let rcpt_to = self
            .all("rcpt")
            .flat_map(|v| v.split(','))
            .map(strip)
            .filter(|s| !s.is_empty())
            .collect();
        Envelope {
            mail_from: self.get("from").map(strip),
            rcpt_to,
            client_ip: self.get("ip").filter(|s| !s.is_empty()).map(str::to_string),
            helo: self
                .get("helo")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            authenticated_user: self
                .get("user")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }
    }
    fn lang(&self) -> Lang {
        match self.get("lang") {
            Some(l) if l.eq_ignore_ascii_case("en") => Lang::En,
            _ => Lang::Vi,
        }
    }
    fn flags(&self) -> Vec<String> {
        self.all("flags")
            .flat_map(|v| v.split(','))
            .map(|f| f.trim().to_ascii_lowercase())
            .filter(|f| !f.is_empty())
            .collect()
    }
}

/// Reads the request body within the size bound.
async fn read_body(st: &ApiState, body: Body) -> Result<Bytes, Response> {
    let limit = st.scanner.loaded().settings.max_message_bytes;
    match axum::body::to_bytes(body, limit).await {
        Ok(b) if b.is_empty() => Err(error(
            StatusCode::BAD_REQUEST,
            "empty request body: POST the raw message",
        )),
        Ok(b) => Ok(b),
        Err(_) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("message larger than {limit} bytes ([gateway] max_message_bytes)"),
        )),
    }
}

/// A scan slot, taken before the body is read so that memory is bounded by
/// `max_sessions` bodies.
#[allow(clippy::result_large_err)] // the error is the HTTP reply itself, built once per refusal
fn permit(st: &ApiState) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    Arc::clone(&st.slots).try_acquire_owned().map_err(|_| {
        st.scanner.metrics.error(Interface::Http, "overload");
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many scans in progress; retry",
        )
    })
}

/// Scans one message. `record`: the message is in the mail flow (an MTA
/// asking over the Rspamd protocol), so it goes into the history and teaches
/// sender memory like mail through the milter. Ad-hoc scans through
/// `/api/v1/scan` (an analyst checking a saved message) are not recorded:
/// scanning a lure twice must not make its sender a "known correspondent".
async fn scan(
    st: &ApiState,
    raw: Arc<Vec<u8>>,
    envelope: Envelope,
    record: bool,
) -> Result<Outcome, Response> {
    let size = raw.len();
    let outcome = st
        .scanner
        .scan(Interface::Http, raw, envelope.clone(), Facts::default())
        .await;
    st.scanner
        .metrics
        .message(Interface::Http, outcome.disposition.action);
    if let Some(rec) = st.scanner.recorder.get().filter(|_| record) {
        rec.record(
            Interface::Http,
            &st.scanner.metrics,
            &envelope,
            None,
            outcome.result.as_ref(),
            &outcome.disposition,
            size,
            None,
        );
    }
    Ok(outcome)
}

/// Rspamd's word for an action.
fn rspamd_action(action: Action, subject_rewrite: bool) -> &'static str {
    match action {
        Action::Accept => "no action",
        Action::Warn if subject_rewrite => "rewrite subject",
        Action::Warn => "add header",
        Action::Quarantine => "quarantine",
        Action::Reject => "reject",
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

async fn checkv2(State(st): State<ApiState>, req: Request) -> Response {
    if req.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "use POST with the raw message as body",
        );
    }
    let (parts, body) = req.into_parts();
    let params = match Params::new(&parts.headers, &parts.uri) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let _permit = match permit(&st) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let raw = match read_body(&st, body).await {
        Ok(b) => Arc::new(b.to_vec()),
        Err(r) => return r,
    };
    let envelope = params.envelope();
    let lang = params.lang();
    let flags = params.flags();
    let body_block = flags.iter().any(|f| f == "body_block");
    let milter_flag = flags.iter().any(|f| f == "milter") || params.get("milter").is_some();
    let outcome = match scan(&st, Arc::clone(&raw), envelope, true).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let loaded = &outcome.loaded;
    let d = &outcome.disposition;
    let settings = &loaded.settings;
    let mut symbols = Map::new();
    let (score, thresholds) = match &outcome.result {
        Some(r) => {
            for s in r.symbols.iter().filter(|s| s.cancelled_by.is_none()) {
                let mut o = Map::new();
                o.insert("name".into(), json!(s.name));
                o.insert("score".into(), json!(round2(s.score)));
                o.insert("metric_score".into(), json!(round2(s.score)));
                o.insert(
                    "description".into(),
                    json!(loaded.engine.describe(&s.name, lang)),
                );
                if !s.options.is_empty() {
                    o.insert("options".into(), json!(s.options));
                }
                symbols.insert(s.name.clone(), Value::Object(o));
            }
            (r.score, r.thresholds)
        }
        None => {
            let t = loaded.engine.config().actions;
            (0.0, t.into())
        }
    };
    let subject_rewrite = d.subject.is_some();
    let mut action = rspamd_action(d.action, subject_rewrite);
    if let Some(f) = &d.failure {
        let name = "PHISHGATE_SCAN_FAILED";
        symbols.insert(
            name.into(),
            json!({"name": name, "score": 0.0, "metric_score": 0.0,
                   "description": "phishgate could not scan the message", "options": [f.token()]}),
        );
        if settings.http_on_error == OnError::Tempfail {
            action = "soft reject";
        }
    }
    if d.defer.is_some() {
        action = "soft reject";
    }
    let warn_name = if subject_rewrite {
        "rewrite subject"
    } else {
        "add header"
    };
    let mut reply = json!({
        "is_skipped": false,
        "score": round2(score),
        "required_score": round2(thresholds.reject),
        "action": action,
        "thresholds": {
            "reject": thresholds.reject,
            "quarantine": thresholds.quarantine,
            warn_name: thresholds.warn,
        },
        "symbols": symbols,
        "time_real": outcome.elapsed.as_secs_f64(),
    });
    let mut add = Map::new();
    for (i, (name, value)) in d.headers.iter().enumerate() {
        add.insert(name.clone(), json!({"value": value, "order": i}));
    }
    let mut remove = Map::new();
    for name in OUR_HEADERS {
        remove.insert((*name).to_string(), json!(0));
    }
    let mut milter = json!({"add_headers": add, "remove_headers": remove});
    if let Some(obj) = reply.as_object_mut() {
        if let Some(r) = &outcome.result {
            if let Some(id) = &r.message_id {
                obj.insert("message-id".into(), json!(id));
            }
        }
        if let Some(s) = &d.subject {
            // Encoded (RFC 2047) and unfolded, as Rspamd returns it: clients
            // put it into the header as it is.
            let v = phishgate_rewrite::encode_header_value("Subject", s).replace("\r\n", "");
            obj.insert("subject".into(), json!(v));
        }
        match d.action {
            Action::Reject => {
                obj.insert(
                    "messages".into(),
                    json!({"smtp_message": "5.7.1 Thư bị từ chối vì có dấu hiệu lừa đảo (message rejected as phishing)"}),
                );
            }
            Action::Quarantine => {
                obj.insert("reject".into(), json!("quarantine"));
                if let Some(m) = milter.as_object_mut() {
                    m.insert("reject".into(), json!("quarantine"));
                }
            }
            _ => {}
        }
        obj.insert("milter".into(), milter);
    }
    // `Flags: body_block`: a banner cannot be expressed as header edits, so
    // the rewritten message follows the JSON, as Rspamd does.
    if body_block && d.banner.is_some() {
        let rewritten = if milter_flag {
            // Milter semantics (rspamd_proxy): only the new body follows the
            // JSON; the header changes it needs go into the `milter` block.
            match banner_body(&raw, d, settings) {
                Some(rw) => {
                    if let Some(m) = reply.get_mut("milter").and_then(Value::as_object_mut) {
                        for phishgate_rewrite::HeaderEdit::Set { name, value } in
                            &rw.top_header_edits
                        {
                            if let Some(add) =
                                m.get_mut("add_headers").and_then(Value::as_object_mut)
                            {
                                add.insert(
                                    name.clone(),
                                    json!({"value": value.replace("\r\n", ""), "order": 0}),
                                );
                            }
                            if let Some(rm) =
                                m.get_mut("remove_headers").and_then(Value::as_object_mut)
                            {
                                rm.insert(name.clone(), json!(0));
                            }
                        }
                    }
                    Some(rw.body)
                }
                None => None,
            }
        } else {
            Some(rewrite_message(&raw, d, settings))
        };
        let Some(rewritten) = rewritten else {
            return axum::Json(reply).into_response();
        };
        let mut body = serde_json::to_vec(&reply).unwrap_or_default();
        let offset = body.len();
        body.extend_from_slice(&rewritten);
        return (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::HeaderName::from_static("message-offset"),
                    HeaderValue::from(offset),
                ),
            ],
            body,
        )
            .into_response();
    }
    axum::Json(reply).into_response()
}

async fn api_scan(State(st): State<ApiState>, req: Request) -> Response {
    if req.method() != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let (parts, body) = req.into_parts();
    let params = match Params::new(&parts.headers, &parts.uri) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let _permit = match permit(&st) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let bytes = match read_body(&st, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let (raw, envelope, lang) = if is_json {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Req {
            message: String,
            #[serde(default)]
            envelope: Envelope,
            #[serde(default)]
            lang: Option<Lang>,
        }
        match serde_json::from_slice::<Req>(&bytes) {
            Ok(r) if r.message.is_empty() => {
                return error(StatusCode::BAD_REQUEST, "\"message\" is empty")
            }
            Ok(r) => (r.message.into_bytes(), r.envelope, r.lang.unwrap_or(params.lang())),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid JSON request: {e} (expected {{\"message\": \"<raw RFC 5322 text>\", \"envelope\": {{\"mail_from\", \"rcpt_to\", \"client_ip\", \"helo\", \"authenticated_user\"}}}})"),
                )
            }
        }
    } else {
        (bytes.to_vec(), params.envelope(), params.lang())
    };
    let raw = Arc::new(raw);
    let outcome = match scan(&st, raw, envelope, false).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let d = &outcome.disposition;
    let engine = &outcome.loaded.engine;
    let symbols: Vec<Value> = outcome
        .result
        .as_ref()
        .map(|r| {
            r.symbols
                .iter()
                .map(|s| {
                    let mut v = json!({
                        "name": s.name, "score": round2(s.score), "group": s.group,
                        "description": engine.describe(&s.name, lang), "options": s.options,
                    });
                    if let (Some(c), Some(o)) = (&s.cancelled_by, v.as_object_mut()) {
                        o.insert("cancelled_by".into(), json!(c));
                    }
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    let mut reply = json!({
        "status": if d.failure.is_some() { "error" } else { "scanned" },
        "action": d.action.as_str(),
        "score": round2(d.score),
        "symbols": symbols,
        "headers": d.headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "elapsed_ms": outcome.elapsed.as_secs_f64() * 1000.0,
    });
    if let Some(obj) = reply.as_object_mut() {
        if let Some(r) = &outcome.result {
            obj.insert("thresholds".into(), json!(r.thresholds));
            obj.insert("from".into(), json!(r.from));
            obj.insert("subject".into(), json!(r.subject));
            obj.insert("message_id".into(), json!(r.message_id));
            obj.insert("size".into(), json!(r.size));
        }
        if let Some(f) = &d.failure {
            obj.insert("error".into(), json!(f.token()));
        }
        if let Some(s) = &d.subject {
            obj.insert("new_subject".into(), json!(s));
        }
        if let Some(b) = &d.banner {
            obj.insert("banner".into(), json!({"plain": b.plain, "html": b.html}));
        }
    }
    axum::Json(reply).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_headers_make_an_envelope() {
        let mut h = HeaderMap::new();
        h.append("Rcpt", HeaderValue::from_static("<a@x.vn>, b@x.vn"));
        h.append("rcpt", HeaderValue::from_static("c@x.vn"));
        h.append("IP", HeaderValue::from_static("203.0.113.9"));
        let uri: Uri = "/checkv2?from=%3Cs%40e.example%3E&helo=mx+1"
            .parse()
            .unwrap();
        let p = Params::new(&h, &uri).unwrap();
        let e = p.envelope();
        assert_eq!(e.rcpt_to, vec!["a@x.vn", "b@x.vn", "c@x.vn"]);
        assert_eq!(e.mail_from.as_deref(), Some("s@e.example"));
        assert_eq!(e.client_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(e.helo.as_deref(), Some("mx 1"));
    }

    #[test]
    fn rspamd_words() {
        assert_eq!(rspamd_action(Action::Accept, false), "no action");
        assert_eq!(rspamd_action(Action::Warn, true), "rewrite subject");
        assert_eq!(rspamd_action(Action::Warn, false), "add header");
        assert_eq!(rspamd_action(Action::Reject, false), "reject");
    }
}
