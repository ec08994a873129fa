//! Time distributions for handle times and patience, sampled in milliseconds.
use crate::acd::types::Millis;
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Uniform};
use serde::Deserialize;

/// As written in scenario files, e.g. `{ dist = "exp", mean_s = 240 }`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum DistSpec {
    Exp { mean_s: f64 },
    Lognormal { mean_s: f64, sd_s: f64 },
    Const { value_s: f64 },
    Uniform { min_s: f64, max_s: f64 },
}

impl DistSpec {
    pub fn mean_s(&self) -> f64 {
        match *self {
            DistSpec::Exp { mean_s } | DistSpec::Lognormal { mean_s, .. } => mean_s,
            DistSpec::Const { value_s } => value_s,
            DistSpec::Uniform { min_s, max_s } => (min_s + max_s) / 2.0,
        }
    }
    pub fn is_exponential(&self) -> bool {
        matches!(self, DistSpec::Exp { .. })
    }
    /// A sampler, or why the parameters are unusable.
    pub fn build(&self) -> Result<Sampler, String> {
        let bad = |what: &str| Err(format!("{what}; durations must be finite and positive"));
        Ok(match *self {
            DistSpec::Exp { mean_s } if mean_s > 0.0 && mean_s.is_finite() => {
                Sampler::Exp(Exp::new(1.0 / mean_s).map_err(|e| e.to_string())?)
            }
            DistSpec::Exp { .. } => return bad("exp needs mean_s > 0"),
            DistSpec::Lognormal { mean_s, sd_s } if mean_s > 0.0 && sd_s > 0.0 => {
                // Parameters of the underlying normal from the mean and sd of the result.
                let s2 = (1.0 + (sd_s / mean_s).powi(2)).ln();
                let mu = mean_s.ln() - s2 / 2.0;
                Sampler::LogNormal(LogNormal::new(mu, s2.sqrt()).map_err(|e| e.to_string())?)
            }
            DistSpec::Lognormal { .. } => return bad("lognormal needs mean_s > 0 and sd_s > 0"),
            DistSpec::Const { value_s } if value_s >= 0.0 && value_s.is_finite() => {
                Sampler::Const(value_s)
            }
            DistSpec::Const { .. } => return bad("const needs value_s >= 0"),
            DistSpec::Uniform { min_s, max_s } if 0.0 <= min_s && min_s < max_s => {
                Sampler::Uniform(Uniform::new(min_s, max_s).map_err(|e| e.to_string())?)
            }
            DistSpec::Uniform { .. } => return bad("uniform needs 0 <= min_s < max_s"),
        })
    }
}

#[derive(Clone, Debug)]
pub enum Sampler {
    Exp(Exp<f64>),
    LogNormal(LogNormal<f64>),
    Const(f64),
    Uniform(Uniform<f64>),
}

impl Sampler {
    /// One draw in milliseconds (rounded to the nearest).
    pub fn sample_ms<R: Rng>(&self, rng: &mut R) -> Millis {
        let s = match self {
            Sampler::Exp(d) => d.sample(rng),
            Sampler::LogNormal(d) => d.sample(rng),
            Sampler::Const(v) => *v,
            Sampler::Uniform(d) => d.sample(rng),
        };
        (s * 1000.0).round().max(0.0) as Millis
    }
}
