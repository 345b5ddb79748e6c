//! A sparse linear model over hashed features (logistic regression): its
//! file format, scoring, training and bounded online updates. Pure: bytes
//! in, bytes out; callers read and write the files.
//!
//! File format (little endian): `PGML`, version `2`, `bits`, two zero
//! bytes, the bias (`f32`), the number of non-zero weights (`u32`), then
//! that many `(u32 index, f32 weight)` pairs, then an FNV-1a 32 checksum of
//! everything before it. A model of 2^18 buckets trained on a few thousand
//! messages is a few hundred KB.

use super::features::Features;

const MAGIC: &[u8; 4] = b"PGML";
/// Version 2: header-shape and writing-style features were added (version 1
/// models weigh buckets that now mean other features, so they are refused).
const VERSION: u8 = 2;

/// Why a model file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Not a phishgate model, or a version this build does not read.
    #[error("not a phishgate model file (or an unknown version)")]
    Format,
    /// A model of an earlier version of phishgate's features: its weights
    /// would be read against features they were not learned from.
    #[error(
        "model file version {0} was trained on an earlier set of features; train it again \
         (`phishgate train`) or remove it to use the model shipped with phishgate"
    )]
    Outdated(u8),
    /// Cut short, or the checksum does not match.
    #[error("damaged model file ({0})")]
    Damaged(&'static str),
}

/// The learned weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Hash width: `2^bits` buckets.
    pub bits: u8,
    /// Intercept.
    pub bias: f32,
    /// One weight per bucket.
    pub weights: Vec<f32>,
}

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad learning rate.
    pub learning_rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Seed of the shuffling (the result depends only on data and seed).
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 10,
            learning_rate: 0.3,
            l2: 1e-6,
            seed: 42,
        }
    }
}

fn fnv32(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-30.0, 30.0)).exp())
}

impl Model {
    /// An untrained model (every weight zero).
    pub fn empty(bits: u8) -> Model {
        let bits = bits.clamp(8, 24);
        Model {
            bits,
            bias: 0.0,
            weights: vec![0.0; 1usize << bits],
        }
    }

    /// The raw score `w·x + b`.
    pub fn logit(&self, f: &Features) -> f32 {
        let mut s = self.bias;
        for (i, v) in f.index.iter().zip(&f.value) {
            s += self.weights.get(*i as usize).copied().unwrap_or(0.0) * v;
        }
        s
    }

    /// Probability that the message is unwanted (phishing or spam).
    pub fn probability(&self, f: &Features) -> f32 {
        sigmoid(self.logit(f))
    }

    /// The `n` features that pushed hardest towards "unwanted" (positive
    /// contributions, largest first), as `(feature, contribution)`.
    pub fn top_contributions(&self, f: &Features, n: usize) -> Vec<(String, f32)> {
        let mut c: Vec<(String, f32)> = f
            .index
            .iter()
            .zip(&f.value)
            .zip(&f.name)
            .map(|((i, v), name)| {
                let w = self.weights.get(*i as usize).copied().unwrap_or(0.0);
                (name.clone(), w * v)
            })
            .filter(|(_, c)| *c > 0.0)
            .collect();
        c.sort_by(|a, b| b.1.total_cmp(&a.1));
        c.truncate(n);
        c
    }

    /// Trains on `(features, unwanted)` examples; classes are weighted so
    /// each counts as much as the other.
    pub fn train(bits: u8, data: &[(Features, bool)], opts: TrainOptions) -> Model {
        let mut m = Model::empty(bits);
        let mut g2 = vec![0.0f32; m.weights.len()];
        let mut g2_bias = 0.0f32;
        let pos = data.iter().filter(|d| d.1).count().max(1) as f32;
        let neg = data.iter().filter(|d| !d.1).count().max(1) as f32;
        let total = pos + neg;
        let (w_pos, w_neg) = (total / (2.0 * pos), total / (2.0 * neg));
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = opts.seed | 1;
        for _ in 0..opts.epochs {
            // Fisher-Yates with xorshift: deterministic for a seed.
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let j = (rng % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            for &k in &order {
                let Some((f, y)) = data.get(k) else { continue };
                let weight = if *y { w_pos } else { w_neg };
                let err = (m.probability(f) - if *y { 1.0 } else { 0.0 }) * weight;
                for (i, v) in f.index.iter().zip(&f.value) {
                    let i = *i as usize;
                    let (Some(w), Some(acc)) = (m.weights.get_mut(i), g2.get_mut(i)) else {
                        continue;
                    };
                    let g = err * v + opts.l2 * *w;
                    *acc += g * g;
                    *w -= opts.learning_rate * g / (acc.sqrt() + 1e-6);
                }
                g2_bias += err * err;
                m.bias -= opts.learning_rate * err / (g2_bias.sqrt() + 1e-6);
            }
        }
        m
    }

    /// One bounded online step from a decision an administrator made (a
    /// released message is wanted, a confirmed one unwanted): a single
    /// logistic-loss gradient step of at most `max_step` per weight, so no
    /// single message can move the model far (poisoning resistance).
    /// Returns the probability before the update.
    pub fn learn_one(&mut self, f: &Features, unwanted: bool, max_step: f32) -> f32 {
        let p = self.probability(f);
        let err = p - if unwanted { 1.0 } else { 0.0 };
        for (i, v) in f.index.iter().zip(&f.value) {
            if let Some(w) = self.weights.get_mut(*i as usize) {
                *w -= (0.5 * err * v).clamp(-max_step, max_step);
            }
        }
        self.bias -= (0.05 * err).clamp(-max_step, max_step);
        p
    }

    /// The model file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.bits);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.bias.to_le_bytes());
        let nz: Vec<(u32, f32)> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| w.abs() > 1e-7)
            .map(|(i, w)| (u32::try_from(i).unwrap_or(0), *w))
            .collect();
        out.extend_from_slice(&u32::try_from(nz.len()).unwrap_or(0).to_le_bytes());
        for (i, w) in nz {
            out.extend_from_slice(&i.to_le_bytes());
            out.extend_from_slice(&w.to_le_bytes());
        }
        let sum = fnv32(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a model file.
    ///
    /// # Errors
    /// [`ModelError`] for anything but a whole, intact model file.
    pub fn from_bytes(data: &[u8]) -> Result<Model, ModelError> {
        if data.len() < 20 || data.get(..4) != Some(MAGIC.as_slice()) {
            return Err(ModelError::Format);
        }
        match data.get(4) {
            Some(&VERSION) => {}
            Some(&v) if v < VERSION => return Err(ModelError::Outdated(v)),
            _ => return Err(ModelError::Format),
        }
        let (body, sum) = data.split_at(data.len() - 4);
        let want = u32::from_le_bytes(
            sum.try_into()
                .map_err(|_| ModelError::Damaged("checksum"))?,
        );
        if fnv32(body) != want {
            return Err(ModelError::Damaged("checksum mismatch"));
        }
        let bits = *body.get(5).ok_or(ModelError::Damaged("header"))?;
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Format);
        }
        let f32_at = |o: usize| -> Result<f32, ModelError> {
            let b: [u8; 4] = body
                .get(o..o + 4)
                .and_then(|s| s.try_into().ok())
                .ok_or(ModelError::Damaged("truncated"))?;
            Ok(f32::from_le_bytes(b))
        };
        let u32_at = |o: usize| -> Result<u32, ModelError> {
            let b: [u8; 4] = body
                .get(o..o + 4)
                .and_then(|s| s.try_into().ok())
                .ok_or(ModelError::Damaged("truncated"))?;
            Ok(u32::from_le_bytes(b))
        };
        let mut m = Model::empty(bits);
        m.bias = f32_at(8)?;
        let n = u32_at(12)? as usize;
        if body.len() != 16 + n * 8 {
            return Err(ModelError::Damaged("length"));
        }
        for k in 0..n {
            let i = u32_at(16 + k * 8)? as usize;
            let w = f32_at(20 + k * 8)?;
            *m.weights.get_mut(i).ok_or(ModelError::Damaged("index"))? = w;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feats(idx: &[u32]) -> Features {
        let v = 1.0 / (idx.len() as f32).sqrt();
        Features {
            index: idx.to_vec(),
            value: vec![v; idx.len()],
            name: idx.iter().map(|i| format!("f{i}")).collect(),
        }
    }

    #[test]
    fn learns_a_separable_set_and_round_trips() {
        let mut data = Vec::new();
        for k in 0..50u32 {
            data.push((feats(&[1, 2, 100 + k % 7]), true));
            data.push((feats(&[3, 4, 200 + k % 7]), false));
        }
        let m = Model::train(12, &data, TrainOptions::default());
        assert!(m.probability(&feats(&[1, 2])) > 0.9);
        assert!(m.probability(&feats(&[3, 4])) < 0.1);
        let top = m.top_contributions(&feats(&[1, 3]), 1);
        assert_eq!(top[0].0, "f1");
        let bytes = m.to_bytes();
        assert_eq!(Model::from_bytes(&bytes).unwrap(), m);
        // Deterministic for a seed.
        assert_eq!(Model::train(12, &data, TrainOptions::default()), m);
    }

    #[test]
    fn damaged_files_are_errors() {
        let m = Model::train(
            10,
            &[(feats(&[5]), true), (feats(&[6]), false)],
            TrainOptions::default(),
        );
        let mut b = m.to_bytes();
        assert_eq!(Model::from_bytes(b"nope"), Err(ModelError::Format));
        let last = b.len() - 6;
        b[last] ^= 0x40;
        assert!(matches!(Model::from_bytes(&b), Err(ModelError::Damaged(_))));
        assert!(Model::from_bytes(&b[..b.len() - 9]).is_err());
        let mut old = m.to_bytes();
        old[4] = 1;
        assert_eq!(Model::from_bytes(&old), Err(ModelError::Outdated(1)));
        old[4] = VERSION + 1;
        assert_eq!(Model::from_bytes(&old), Err(ModelError::Format));
    }

    #[test]
    fn one_message_moves_the_model_a_bounded_amount() {
        let mut m = Model::empty(10);
        let f = feats(&[7, 8, 9]);
        for _ in 0..3 {
            m.learn_one(&f, true, 0.05);
        }
        assert!(m.weights.iter().all(|w| w.abs() <= 0.15 + 1e-6));
        assert!(m.probability(&f) > 0.5);
    }
}
