//! Releasing held messages: claim in the store, re-inject over SMTP to the
//! relay with the original envelope, then mark released.
//!
//! The claim moves the chosen recipients from `held` to `releasing` in one
//! transaction, so two administrators (or two nodes sharing PostgreSQL)
//! releasing the same message cannot both send it: the second claim gets no
//! recipients. If the re-injection fails the recipients go back to `held`;
//! if the process dies in between, a later release reclaims them once the
//! claim is stale. Every step is in the audit log.

use phishgate_smtp::{Address, EnvelopeAddress, Outcome, Param, Transaction};
use phishgate_store::{Actor, ReleaseOutcome, Store};
use serde::Serialize;

use crate::record::now_ms;
use crate::settings::Settings;

/// A release claim older than this is taken over (the releasing node died).
pub const STALE_CLAIM_MS: i64 = 10 * 60 * 1000;

/// What a release did.
#[derive(Debug, Serialize)]
pub struct ReleaseReport {
    /// The held message.
    pub id: String,
    /// Recipients re-injected now.
    pub released: Vec<String>,
    /// True when nothing was left to release (already released by someone).
    pub already: bool,
    /// The relay's answer.
    pub relay_reply: String,
}

fn params(list: &[String]) -> Vec<Param> {
    list.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Param::new(k, Some(v)),
            None => Param::new(p.as_str(), None),
        })
        .collect()
}

/// Releases `id` to `rcpts` (all held recipients when `None`).
pub async fn release(
    settings: &Settings,
    store: &Store,
    id: &str,
    rcpts: Option<&[String]>,
    actor: &Actor,
) -> anyhow::Result<ReleaseReport> {
    let entry = store
        .quarantine_get(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no held message {id}"))?;
    let claim = store
        .quarantine_claim(id, rcpts, actor, STALE_CLAIM_MS)
        .await?;
    if claim.rcpts.is_empty() {
        return Ok(ReleaseReport {
            id: id.to_string(),
            released: Vec::new(),
            already: true,
            relay_reply: String::new(),
        });
    }
    let result = async {
        let held = store.quarantine_raw(id).await?;
        // The held copy is the message as it arrived: result headers and
        // our authentication stamp in it are forged, never delivered.
        let raw = phishgate_rewrite::apply(
            &held,
            &phishgate_rewrite::MessageEdits {
                remove_prefixes: vec![crate::disposition::HEADER_PREFIX.to_string()],
                remove_auth_results_of: settings.verified_authserv_id.iter().cloned().collect(),
                ..phishgate_rewrite::MessageEdits::default()
            },
        );
        let stamp = format!(
            "X-Phishgate-Released: by {} from {} at {} (held as {id})\r\n",
            actor.who.replace(['\r', '\n'], " "),
            actor.from.replace(['\r', '\n'], " "),
            now_ms() / 1000
        );
        let mut data = stamp.into_bytes();
        data.extend_from_slice(&raw);
        let mail_from = Address::parse(&entry.mail_from)
            .map_err(|e| anyhow::anyhow!("stored sender {:?}: {e}", entry.mail_from))?;
        let mut rcpt_list = Vec::new();
        for (a, p) in &claim.rcpts {
            let addr =
                Address::parse(a).map_err(|e| anyhow::anyhow!("stored recipient {a:?}: {e}"))?;
            rcpt_list.push(EnvelopeAddress::new(addr, params(p)));
        }
        let mut mail_params = params(&entry.mail_params);
        mail_params.retain(|p| !p.is("SIZE"));
        let tx = Transaction {
            helo: None,
            xforward: None,
            mail_from: EnvelopeAddress::new(mail_from, mail_params),
            rcpts: rcpt_list,
            data,
        };
        let outcome = crate::smtp::deliver(settings, tx)
            .await
            .map_err(|e| anyhow::anyhow!("relay {}: {e}", settings.relay))?;
        match outcome {
            Outcome::Delivered { reply } | Outcome::PartiallyAccepted { reply, .. } => {
                Ok(reply.to_string())
            }
            Outcome::TempFailed { reply, .. } | Outcome::Rejected { reply, .. } => {
                Err(anyhow::anyhow!("relay {} refused: {reply}", settings.relay))
            }
        }
    }
    .await;
    match result {
        Ok(reply) => {
            store
                .quarantine_finish(id, &claim.token, ReleaseOutcome::Released)
                .await?;
            Ok(ReleaseReport {
                id: id.to_string(),
                released: claim.rcpts.into_iter().map(|r| r.0).collect(),
                already: false,
                relay_reply: reply,
            })
        }
        Err(e) => {
            // Back to held: nothing was delivered, a later release may retry.
            let _ = store
                .quarantine_finish(id, &claim.token, ReleaseOutcome::Failed)
                .await;
            Err(e)
        }
    }
}
