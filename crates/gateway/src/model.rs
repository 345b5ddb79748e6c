//! The organisation's classifier model, kept in the store so every gateway
//! node judges with the same one and every node's administrators teach it.
//!
//! The store holds one model (named [`MODEL_NAME`]) with a version. Nodes
//! poll the version every [`POLL`] and load a newer model without a restart
//! (sessions in flight keep the one they started with). Learning reads the
//! current version, takes one bounded step per example and writes it back
//! only if nobody wrote in between (compare-and-swap), retrying otherwise,
//! so two administrators on two nodes never lose each other's lessons.
//! While the store has no model, the configured file (or the shipped model)
//! is the starting point.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use phishgate_core::learn::{features_of_view, Model};
use phishgate_core::view::MessageView;
use phishgate_core::Engine;
use phishgate_store::{Actor, Store};

use crate::scanner::Scanner;

/// The model's name in the store.
pub const MODEL_NAME: &str = "classifier";
/// How often a node asks the store for a newer model.
pub const POLL: Duration = Duration::from_secs(5);
/// Largest change of one weight by one message (poisoning resistance: a
/// few wrong or hostile examples cannot turn the model around).
pub const MAX_STEP: f32 = 0.05;
/// Attempts when other writers keep winning the compare-and-swap.
const ATTEMPTS: usize = 8;

/// One example: a label for messages, the raw message, unwanted or not.
pub type Example = (String, Vec<u8>, bool);

/// An example parsed once (a retried update teaches it again without
/// parsing it again).
pub struct Lesson {
    label: String,
    view: MessageView,
    unwanted: bool,
}

/// Parses the examples.
pub fn lessons(examples: &[Example], limits: &phishgate_core::config::Limits) -> Vec<Lesson> {
    examples
        .iter()
        .map(|(label, raw, unwanted)| Lesson {
            label: label.clone(),
            view: MessageView::build(raw, limits),
            unwanted: *unwanted,
        })
        .collect()
}

/// One bounded step of `model` per lesson; one line per lesson
/// (`label  phish|ham  p(unwanted) before -> after`).
pub fn teach(model: &mut Model, lessons: &[Lesson]) -> Vec<String> {
    let mut lines = Vec::new();
    for l in lessons {
        let features = features_of_view(&l.view, model.bits);
        let before = model.learn_one(&features, l.unwanted, MAX_STEP);
        let after = model.probability(&features);
        lines.push(format!(
            "{}\t{}\tp(unwanted) {before:.2} -> {after:.2}",
            l.label,
            if l.unwanted { "phish" } else { "ham" }
        ));
    }
    lines
}

/// Teaches the store's model (or, while it has none, `engine`'s model)
/// the examples and writes the new version. Returns the version written
/// and one line per example (`label  phish|ham  p before -> after`).
///
/// # Errors
/// The classifier is off, the store fails, the stored model is damaged,
/// or other writers won every attempt.
pub async fn learn_shared(
    store: &Store,
    engine: &Engine,
    examples: &[Example],
    actor: &Actor,
) -> Result<(i64, Vec<String>)> {
    let Some(configured) = engine.model() else {
        bail!("the classifier is off ([classifier] enabled = false)");
    };
    let lessons = lessons(examples, &engine.config().limits);
    for _ in 0..ATTEMPTS {
        let current = store
            .model_get(MODEL_NAME)
            .await
            .context("cannot read the organisation's model from the store")?;
        let (mut model, expected) = match &current {
            Some(m) => match Model::from_bytes(&m.bytes) {
                Ok(model) => (model, Some(m.version)),
                // Learned on features this build no longer computes: its
                // lessons cannot carry over, so the organisation's model
                // starts again from the one configured (and replaces it).
                Err(e @ phishgate_core::learn::ModelError::Outdated(_)) => {
                    tracing::warn!(
                        version = m.version,
                        "the stored model is outdated ({e}); it is replaced by the configured \
                         model with this lesson"
                    );
                    (configured.clone(), Some(m.version))
                }
                Err(e) => bail!("the stored model (version {}): {e}", m.version),
            },
            None => (configured.clone(), None),
        };
        let lines = teach(&mut model, &lessons);
        match store
            .model_put(MODEL_NAME, &model.to_bytes(), expected, actor)
            .await
        {
            Ok(version) => return Ok((version, lines)),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e).context("cannot write the organisation's model"),
        }
    }
    bail!(
        "the organisation's model kept changing under this update ({ATTEMPTS} attempts); try again"
    )
}

/// Loads the store's model into `scanner` when its version is newer than
/// the one in force. Returns the version now in force, if any.
///
/// # Errors
/// The store fails or the stored model is damaged (the one in force stays).
pub async fn refresh(scanner: &Scanner, store: &Store) -> Result<Option<i64>> {
    let current = scanner.shared_model_version();
    let Some(version) = store.model_version(MODEL_NAME).await? else {
        return Ok(current);
    };
    if Some(version) == current {
        return Ok(current);
    }
    let Some(stored) = store.model_get(MODEL_NAME).await? else {
        return Ok(current);
    };
    let model = Model::from_bytes(&stored.bytes)
        .map_err(|e| anyhow::anyhow!("the stored model (version {}): {e}", stored.version))?;
    scanner.set_shared_model(stored.version, Arc::new(model));
    tracing::info!(
        version = stored.version,
        by = %stored.updated_by,
        "the organisation's classifier model is loaded"
    );
    Ok(Some(stored.version))
}

/// Polls the store for a newer model until `shutdown`; failures are logged
/// and the model in force stays.
pub async fn watch(scanner: Arc<Scanner>, store: Arc<Store>, mut shutdown: crate::serve::Shutdown) {
    let mut warned = false;
    loop {
        match refresh(&scanner, &store).await {
            Ok(_) => warned = false,
            Err(e) if !warned => {
                tracing::warn!(error = %format!("{e:#}"), "cannot refresh the organisation's model; keeping the one in force");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn an_outdated_stored_model_is_replaced_by_the_next_lesson() {
        let store = Store::open("memory:", std::path::Path::new("."))
            .await
            .unwrap();
        let engine = Engine::new(phishgate_core::config::Config::defaults()).unwrap();
        let actor = Actor {
            who: "admin".into(),
            from: "test".into(),
        };
        // A model of the earlier file version (the features it weighs
        // changed since): refused as such, not as damaged.
        let mut old = engine.model().unwrap().to_bytes();
        old[4] = 1;
        assert!(matches!(
            Model::from_bytes(&old),
            Err(phishgate_core::learn::ModelError::Outdated(1))
        ));
        let v1 = store
            .model_put(MODEL_NAME, &old, None, &actor)
            .await
            .unwrap();
        let lure = b"Subject: Xac minh tai khoan\r\n\r\nVui long xac minh tai khoan ngay.\r\n";
        let (v2, lines) = learn_shared(
            &store,
            &engine,
            &[("lure".into(), lure.to_vec(), true)],
            &actor,
        )
        .await
        .unwrap();
        assert!(v2 > v1);
        assert_eq!(lines.len(), 1);
        let stored = store.model_get(MODEL_NAME).await.unwrap().unwrap();
        let now = Model::from_bytes(&stored.bytes).expect("a current model");
        // The configured model with this one lesson, not the outdated one.
        let mut expected = engine.model().unwrap().clone();
        teach(
            &mut expected,
            &lessons(
                &[("lure".into(), lure.to_vec(), true)],
                &engine.config().limits,
            ),
        );
        assert_eq!(now, expected);
    }
}
