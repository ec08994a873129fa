//! Counters and the answer-latency histogram one load step collects: calls attempted,
//! completed and failed (by reason), retransmissions, stray responses. The histogram is
//! HDR-like: log2 ranges each cut into 64 linear buckets (under 1.6% error), fixed
//! memory, mergeable across sockets.

use std::collections::BTreeMap;
use std::fmt;

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailReason {
    /// No response at all to the INVITE within timer B (64·T1).
    InviteTimeout,
    /// A provisional response came, but no final one within 64·T1 of sending.
    AnswerTimeout,
    /// A final non-2xx response to the INVITE (its status).
    InviteRejected(u16),
    /// No final response to the BYE within timer F (64·T1).
    ByeTimeout,
    /// A final non-2xx response to the BYE (its status).
    ByeRejected(u16),
    /// The server hung up (sent BYE) before we did.
    RemoteBye,
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::InviteTimeout => f.write_str("INVITE timeout"),
            FailReason::AnswerTimeout => f.write_str("INVITE no final answer"),
            FailReason::InviteRejected(s) => write!(f, "INVITE {s}"),
            FailReason::ByeTimeout => f.write_str("BYE timeout"),
            FailReason::ByeRejected(s) => write!(f, "BYE {s}"),
            FailReason::RemoteBye => f.write_str("BYE from server"),
        }
    }
}

/// Everything counted during one step (or one phase) on one or more sockets.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// INVITEs sent (first transmissions).
    pub attempted: u64,
    /// Calls the pacer should have started but did not because max in-flight was reached.
    pub throttled: u64,
    /// INVITEs answered with 2xx.
    pub answered: u64,
    /// Calls that went INVITE → 200 → ACK → BYE → 200.
    pub completed: u64,
    pub failures: BTreeMap<FailReason, u64>,
    /// INVITE retransmissions (timer A).
    pub invite_retrans: u64,
    /// BYE retransmissions (timer E).
    pub bye_retrans: u64,
    /// Retransmitted 2xx to an INVITE that we re-ACKed.
    pub ok_retrans: u64,
    /// Responses for calls we no longer (or never) knew.
    pub stray: u64,
    /// Datagrams that did not parse as SIP.
    pub unparsable: u64,
    /// Datagrams the socket refused to send (they count as lost; timers retransmit).
    pub send_errors: u64,
    /// INVITE sent → 2xx received, in microseconds.
    pub latency: Histogram,
}

impl Stats {
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    pub fn fail(&mut self, reason: FailReason) {
        *self.failures.entry(reason).or_insert(0) += 1;
    }

    /// Adds `other`'s counts into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.attempted += other.attempted;
        self.throttled += other.throttled;
        self.answered += other.answered;
        self.completed += other.completed;
        for (reason, n) in &other.failures {
            *self.failures.entry(*reason).or_insert(0) += n;
        }
        self.invite_retrans += other.invite_retrans;
        self.bye_retrans += other.bye_retrans;
        self.ok_retrans += other.ok_retrans;
        self.stray += other.stray;
        self.unparsable += other.unparsable;
        self.send_errors += other.send_errors;
        self.latency.merge(&other.latency);
    }
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets 0..64 hold exact values; then 64 per power of two up to 2^63.
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * SUB as usize;

/// A log-linear histogram of `u64` values (microseconds here).
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let mantissa = (v >> shift) - SUB; // 0..64
    ((shift + 1) as u64 * SUB + mantissa) as usize
}

/// Largest value that falls in bucket `b`.
fn bucket_high(b: usize) -> u64 {
    let b = b as u64;
    if b < SUB {
        return b;
    }
    let shift = b / SUB - 1;
    let mantissa = b % SUB;
    let low = (SUB + mantissa) << shift;
    low.saturating_add((1u64 << shift) - 1)
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(bucket_of(v)) {
            *c += 1;
        }
        self.total += 1;
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0.0..=1.0), as the top of its bucket but never above
    /// the largest recorded value; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(b).min(self.max);
            }
        }
        self.max
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 - 50_000.0).abs() / 50_000.0 < 0.02, "p50 {p50}");
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.02, "p99 {p99}");
        assert_eq!(h.max(), 100_000);
        assert_eq!(h.quantile(1.0), 100_000);
    }

    #[test]
    fn small_values_are_exact_and_empty_is_zero() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), 0);
        for v in [3, 3, 7, 40] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 3);
        assert_eq!(h.quantile(0.75), 7);
        assert_eq!(h.quantile(0.99), 40);
    }

    #[test]
    fn every_bucket_boundary_round_trips() {
        for v in [64u64, 65, 127, 128, 1000, 1 << 40, u64::MAX] {
            let b = bucket_of(v);
            assert!(b < BUCKETS);
            assert!(bucket_high(b) >= v, "{v}");
            if b > 0 {
                assert!(bucket_high(b - 1) < v, "{v}");
            }
        }
    }

    #[test]
    fn merge_adds_counts_and_failures() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        a.fail(FailReason::InviteRejected(486));
        b.fail(FailReason::InviteRejected(486));
        b.fail(FailReason::ByeTimeout);
        b.completed = 3;
        b.latency.record(1500);
        a.merge(&b);
        assert_eq!(a.failed(), 3);
        assert_eq!(a.failures[&FailReason::InviteRejected(486)], 2);
        assert_eq!(a.completed, 3);
        assert_eq!(a.latency.count(), 1);
        assert_eq!(FailReason::InviteRejected(486).to_string(), "INVITE 486");
    }
}
