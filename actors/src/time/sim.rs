//! Test-only simulation helpers: seeded random delays and error statistics. No sleeps, no real clocks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A seeded random source.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// How a network (or a sender) delays a timestamp: always ≥ 0.
#[derive(Clone, Copy, Debug)]
pub enum Delay {
    /// Uniform in `[0, max_s]`.
    Uniform { max_s: f64 },
    /// `min_s` plus an exponential with mean `mean_s`, capped at `cap_s`.
    Exp { min_s: f64, mean_s: f64, cap_s: f64 },
}

impl Delay {
    pub fn sample(self, rng: &mut StdRng) -> f64 {
        match self {
            Delay::Uniform { max_s } => rng.random::<f64>() * max_s,
            Delay::Exp { min_s, mean_s, cap_s } => {
                let u: f64 = rng.random::<f64>().max(1e-300);
                min_s + (-u.ln() * mean_s).min(cap_s)
            }
        }
    }
}

/// Absolute errors collected during a simulation.
#[derive(Debug, Default)]
pub struct Errors {
    values: Vec<f64>,
}

impl Errors {
    pub fn push(&mut self, e: f64) {
        self.values.push(e.abs());
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn max(&self) -> f64 {
        self.values.iter().copied().fold(0.0, f64::max)
    }

    /// The `q` quantile (0..=1) of the absolute errors.
    pub fn quantile(&self, q: f64) -> f64 {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return 0.0;
        }
        v[((v.len() - 1) as f64 * q).round() as usize]
    }

    /// `max / p99 / median` in milliseconds, for test output.
    pub fn summary_ms(&self) -> String {
        format!(
            "n={} max={:.4} ms p99={:.4} ms median={:.4} ms",
            self.len(),
            self.max() * 1e3,
            self.quantile(0.99) * 1e3,
            self.quantile(0.5) * 1e3
        )
    }
}
