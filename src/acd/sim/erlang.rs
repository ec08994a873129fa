//! Erlang C (M/M/n) and Erlang A (M/M/n+M, exponential patience) formulas: the exact
//! figures the simulator must reproduce before its richer results are believed.
//!
//! Notation: `n` agents, arrivals λ per second, mean handle time `aht_s` (μ = 1/aht),
//! offered load A = λ·aht (Erlangs), mean patience `patience_s` (θ = 1/patience),
//! service-level threshold `t_s`.

/// Figures of a queueing model, in the simulator's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangFigures {
    /// Probability an arriving caller waits (> 0 s).
    pub p_wait: f64,
    /// Mean wait of answered callers, seconds.
    pub asa_s: f64,
    /// Answered within `t_s` ÷ all offered callers.
    pub service_level: f64,
    /// Share of callers who abandon (0 for Erlang C).
    pub p_abandon: f64,
}

/// Erlang B blocking probability, by the stable recursion B(k) = A·B(k−1)/(k + A·B(k−1)).
pub fn erlang_b(n: u32, a: f64) -> f64 {
    (1..=n).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// Erlang C: P(wait) = n·B / (n − A·(1 − B)); needs A < n.
pub fn erlang_c(n: u32, lambda: f64, aht_s: f64, t_s: f64) -> Option<ErlangFigures> {
    let a = lambda * aht_s;
    let nf = n as f64;
    if a >= nf || a <= 0.0 {
        return None;
    }
    let b = erlang_b(n, a);
    let c = nf * b / (nf - a * (1.0 - b));
    // Waiting callers leave the queue at rate (n − A)/aht.
    let drain = (nf - a) / aht_s;
    Some(ErlangFigures {
        p_wait: c,
        asa_s: c / drain,
        service_level: 1.0 - c * (-drain * t_s).exp(),
        p_abandon: 0.0,
    })
}

/// Erlang A, from the birth–death chain of callers in the system.
///
/// With k callers present (k ≥ n), an arrival has j = k − n callers ahead. While i are
/// ahead it moves up at rate nμ + iθ and abandons at rate θ, so
/// P(served | j) = Π_{i=0..j} (nμ+iθ)/(nμ+(i+1)θ), the wait of a served caller is a sum of
/// independent Exp(nμ+(i+1)θ), i = 0..j (mean Σ 1/(nμ+(i+1)θ)), and
/// P(wait ≤ T) for that sum comes from the pure-birth chain through those rates,
/// computed by uniformization.
pub fn erlang_a(
    n: u32,
    lambda: f64,
    aht_s: f64,
    patience_s: f64,
    t_s: f64,
) -> Option<ErlangFigures> {
    if n == 0 || lambda <= 0.0 || aht_s <= 0.0 || patience_s <= 0.0 {
        return None;
    }
    let (mu, theta) = (1.0 / aht_s, 1.0 / patience_s);
    let nmu = n as f64 * mu;
    // Stationary distribution, unnormalised, until the tail is negligible.
    let mut pi = vec![1.0f64];
    let mut k = 0usize;
    loop {
        let death = if k < n as usize {
            (k + 1) as f64 * mu
        } else {
            nmu + (k + 1 - n as usize) as f64 * theta
        };
        let next = pi[k] * lambda / death;
        pi.push(next);
        k += 1;
        let total: f64 = pi.iter().sum();
        if k > n as usize && next < total * 1e-15 || k > 100_000 {
            break;
        }
    }
    let total: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|p| *p /= total);
    let jmax = pi.len().saturating_sub(n as usize);
    let rate = |i: usize| nmu + (i + 1) as f64 * theta;
    let done_by_t = pure_birth_cdf(jmax, &rate, t_s);
    let (mut p_wait, mut p_served, mut served_wait, mut sl) = (0.0, 0.0, 0.0, 0.0);
    let mut surv = 1.0; // P(served | j), built up over j
    let mut mean = 0.0; // E[W | served, j]
    for (k, p) in pi.iter().enumerate() {
        if k < n as usize {
            p_served += p;
            sl += p;
            continue;
        }
        let j = k - n as usize;
        surv *= (nmu + j as f64 * theta) / rate(j);
        mean += 1.0 / rate(j);
        p_wait += p;
        p_served += p * surv;
        served_wait += p * surv * mean;
        sl += p * surv * done_by_t[j];
    }
    Some(ErlangFigures {
        p_wait,
        asa_s: served_wait / p_served,
        service_level: sl,
        p_abandon: 1.0 - p_served,
    })
}

/// P(at least j+1 stages done by time t), j = 0..jmax, for a pure-birth chain with
/// rate `rate(i)` out of stage i (uniformization).
fn pure_birth_cdf(jmax: usize, rate: &dyn Fn(usize) -> f64, t: f64) -> Vec<f64> {
    let lam = (0..=jmax).map(rate).fold(0.0f64, f64::max);
    let stages = jmax + 2; // 0..=jmax+1, the last absorbing
    let mut dist = vec![0.0f64; stages];
    dist[0] = 1.0;
    let mut out = vec![0.0f64; jmax + 1];
    let lt = lam * t;
    let mut weight = (-lt).exp(); // Poisson(lt; m)
    let mut acc = 0.0;
    let mut m = 0u64;
    // Accumulate Σ_m Poisson(m) · P(stage ≥ j+1 after m jumps)
    while acc < 1.0 - 1e-13 && m < 100_000 {
        let mut tail = 0.0;
        for j in (0..=jmax).rev() {
            tail += dist[j + 1];
            out[j] += weight * tail;
        }
        acc += weight;
        let mut next = vec![0.0f64; stages];
        for (i, p) in dist.iter().enumerate() {
            if i == stages - 1 {
                next[i] += p;
            } else {
                let go = rate(i) / lam;
                next[i + 1] += p * go;
                next[i] += p * (1.0 - go);
            }
        }
        dist = next;
        m += 1;
        weight *= lt / m as f64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_published_values() {
        // Classic example: 10 Erlangs offered to 11 agents, AHT 180 s, T = 20 s.
        let lambda = 10.0 / 180.0;
        let e = erlang_c(11, lambda, 180.0, 20.0).unwrap();
        assert!((e.p_wait - 0.6821).abs() < 1e-3, "{e:?}");
        assert!((e.asa_s - 122.8).abs() < 0.5, "{e:?}");
        assert!((e.service_level - 0.3896).abs() < 2e-3, "{e:?}");
        assert!(
            erlang_c(10, 10.0 / 180.0, 180.0, 20.0).is_none(),
            "unstable"
        );
    }

    #[test]
    fn erlang_a_tends_to_erlang_c_with_patient_callers_and_loses_callers_otherwise() {
        let lambda = 8.5 / 240.0;
        let c = erlang_c(10, lambda, 240.0, 20.0).unwrap();
        let a = erlang_a(10, lambda, 240.0, 1e9, 20.0).unwrap();
        assert!((a.p_wait - c.p_wait).abs() < 1e-4, "{a:?} {c:?}");
        assert!((a.asa_s - c.asa_s).abs() / c.asa_s < 1e-3, "{a:?} {c:?}");
        assert!(
            (a.service_level - c.service_level).abs() < 1e-4,
            "{a:?} {c:?}"
        );
        let impatient = erlang_a(10, lambda, 240.0, 120.0, 20.0).unwrap();
        assert!(
            impatient.p_abandon > 0.05 && impatient.asa_s < c.asa_s,
            "{impatient:?}"
        );
        // Overloaded (A > n) is still stable with abandonment.
        assert!(erlang_a(10, 12.0 / 240.0, 240.0, 120.0, 20.0).is_some());
    }
}
