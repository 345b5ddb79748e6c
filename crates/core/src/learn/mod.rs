//! The learned classifier: hashed sparse features ([`features`]) and a
//! linear model over them ([`model`]), trained by `phishgate train` and
//! shipped in `crates/core/data/model.pgml`. Scoring one message is a few
//! thousand multiply-adds (microseconds). The check that uses it is
//! `checks/classifier.rs`.

pub mod features;
pub mod model;

pub use features::{extract, features_of_view, telling, Features};
pub use model::{Model, ModelError, TrainOptions};

/// Hash width of the shipped model.
pub const DEFAULT_BITS: u8 = 18;
