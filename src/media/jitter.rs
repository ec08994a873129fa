//! Receive-side statistics for one RTP source (RFC 3550 A.1 sequence tracking, A.3 loss,
//! A.8 interarrival jitter) and the late-packet filter used in front of playout/relay.

use std::time::Instant;

use super::rtp::seq_newer;

const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// Receive statistics for the current remote SSRC.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    base_instant: Option<Instant>,
    ssrc: Option<u32>,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i64>,
    jitter: f64,
}

/// A point-in-time view of [`ReceiveStats`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReceiveSnapshot {
    /// Remote SSRC being tracked.
    pub ssrc: u32,
    /// Packets received (including duplicates).
    pub received: u64,
    /// Packets expected from the sequence numbers.
    pub expected: u64,
    /// Cumulative lost (expected − received, may go negative with duplicates).
    pub cumulative_lost: i64,
    /// Extended highest sequence number received.
    pub extended_max_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
}

/// The per-interval part of an RTCP report block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntervalReport {
    /// Totals at the end of the interval.
    pub snapshot: ReceiveSnapshot,
    /// Loss fraction over the interval in 1/256 units.
    pub fraction_lost: u8,
}

impl ReceiveStats {
    /// New tracker for a codec clock rate (8000 for G.711).
    pub fn new(clock_rate: u32) -> Self {
        ReceiveStats {
            clock_rate,
            base_instant: None,
            ssrc: None,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
        }
    }

    fn init(&mut self, ssrc: u32, seq: u16) {
        self.ssrc = Some(ssrc);
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.transit = None;
        self.jitter = 0.0;
    }

    /// Records one packet. Returns false when the packet was judged out of the sequence space
    /// (a big jump waiting for confirmation); a new SSRC restarts the statistics.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16, rtp_ts: u32, now: Instant) -> bool {
        if self.ssrc != Some(ssrc) {
            self.init(ssrc, seq);
        } else {
            let udelta = seq.wrapping_sub(self.max_seq) as u32;
            if udelta < MAX_DROPOUT {
                if seq < self.max_seq {
                    self.cycles += SEQ_MOD;
                }
                self.max_seq = seq;
            } else if udelta <= SEQ_MOD - MAX_MISORDER {
                if seq as u32 == self.bad_seq {
                    // Two sequential packets after a jump: the source restarted.
                    self.init(ssrc, seq);
                } else {
                    self.bad_seq = (seq as u32 + 1) & (SEQ_MOD - 1);
                    return false;
                }
            }
            // else: duplicate or reordered, counted below
        }
        self.received += 1;
        let base = *self.base_instant.get_or_insert(now);
        let arrival = (now.saturating_duration_since(base).as_micros() as u64)
            .saturating_mul(self.clock_rate as u64)
            / 1_000_000;
        let transit = arrival as i64 - rtp_ts as i64;
        if let Some(prev) = self.transit {
            // Timestamps wrap at 2^32; fold the difference back into 32-bit signed space.
            let d = (transit - prev) as i32 as i64;
            self.jitter += (d.unsigned_abs() as f64 - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
        true
    }

    /// Totals without closing the interval.
    pub fn snapshot(&self) -> ReceiveSnapshot {
        let extended = self.cycles.wrapping_add(self.max_seq as u32);
        let expected = if self.ssrc.is_some() {
            (extended as u64 + 1).saturating_sub(self.base_seq as u64)
        } else {
            0
        };
        ReceiveSnapshot {
            ssrc: self.ssrc.unwrap_or(0),
            received: self.received,
            expected,
            cumulative_lost: expected as i64 - self.received as i64,
            extended_max_seq: extended,
            jitter: self.jitter as u32,
        }
    }

    /// Whether any packet was seen.
    pub fn has_source(&self) -> bool {
        self.ssrc.is_some()
    }

    /// Closes the reporting interval (RFC 3550 A.3) for an RTCP report block.
    pub fn interval_report(&mut self) -> IntervalReport {
        let snapshot = self.snapshot();
        let expected_interval = snapshot.expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = snapshot.expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        IntervalReport {
            snapshot,
            fraction_lost,
        }
    }
}

/// Drops packets older than (or equal to) the newest one already passed on.
#[derive(Debug, Clone, Default)]
pub struct LateFilter {
    last: Option<(u32, u16)>,
}

impl LateFilter {
    /// True when `seq` from `ssrc` is newer than anything passed so far. A new SSRC, or a
    /// sequence more than 100 behind (the sender restarted its numbering), starts afresh.
    pub fn accept(&mut self, ssrc: u32, seq: u16) -> bool {
        match self.last {
            Some((s, last))
                if s == ssrc
                    && !seq_newer(seq, last)
                    && last.wrapping_sub(seq) <= MAX_MISORDER as u16 =>
            {
                false
            }
            _ => {
                self.last = Some((ssrc, seq));
                true
            }
        }
    }

    /// Forget the reference (after a re-INVITE or source change).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn feed(stats: &mut ReceiveStats, t0: Instant, seqs: &[u16]) {
        for &s in seqs {
            let ts = s as u32 * 160;
            let at = t0 + Duration::from_millis(s as u64 * 20);
            stats.on_packet(42, s, ts, at);
        }
    }

    #[test]
    fn counts_loss_and_fraction() {
        let mut st = ReceiveStats::new(8000);
        let t0 = Instant::now();
        let seqs: Vec<u16> = (0..100).filter(|s| s % 10 != 5).collect();
        feed(&mut st, t0, &seqs);
        let r = st.interval_report();
        assert_eq!(r.snapshot.expected, 100);
        assert_eq!(r.snapshot.received, 90);
        assert_eq!(r.snapshot.cumulative_lost, 10);
        assert_eq!(r.fraction_lost, (10 * 256 / 100) as u8);
        // A clean second interval reports no fresh loss but keeps the cumulative figure.
        feed(&mut st, t0, &(100..200).collect::<Vec<_>>());
        let r = st.interval_report();
        assert_eq!(r.fraction_lost, 0);
        assert_eq!(r.snapshot.cumulative_lost, 10);
    }

    #[test]
    fn extended_sequence_wraps() {
        let mut st = ReceiveStats::new(8000);
        let t0 = Instant::now();
        for (i, s) in (65530u16..=65535).chain(0..5).enumerate() {
            st.on_packet(
                1,
                s,
                i as u32 * 160,
                t0 + Duration::from_millis(i as u64 * 20),
            );
        }
        let snap = st.snapshot();
        assert_eq!(snap.extended_max_seq, 65536 + 4);
        assert_eq!(snap.expected, 11);
        assert_eq!(snap.cumulative_lost, 0);
    }

    #[test]
    fn steady_stream_has_no_jitter_and_jittery_one_does() {
        let mut st = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut st, t0, &(0..50).collect::<Vec<_>>());
        assert_eq!(st.snapshot().jitter, 0);
        let mut st = ReceiveStats::new(8000);
        for s in 0..200u16 {
            let wobble = if s % 2 == 0 { 0 } else { 10 };
            let at = t0 + Duration::from_millis(s as u64 * 20 + wobble);
            st.on_packet(7, s, s as u32 * 160, at);
        }
        // |D| alternates 80 timestamp units; the estimate converges to 80.
        let j = st.snapshot().jitter;
        assert!((75..=80).contains(&j), "jitter {j}");
    }

    #[test]
    fn new_ssrc_restarts_and_jump_needs_confirmation() {
        let mut st = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut st, t0, &[0, 1, 2]);
        assert!(!st.on_packet(42, 30000, 0, t0));
        assert!(st.on_packet(42, 30001, 0, t0));
        assert_eq!(st.snapshot().expected, 1);
        st.on_packet(99, 500, 0, t0);
        assert_eq!(st.snapshot().ssrc, 99);
        assert_eq!(st.snapshot().received, 1);
    }

    #[test]
    fn late_filter_drops_old_and_duplicates() {
        let mut f = LateFilter::default();
        assert!(f.accept(1, 10));
        assert!(f.accept(1, 12));
        assert!(!f.accept(1, 11));
        assert!(!f.accept(1, 12));
        assert!(f.accept(1, 13));
        assert!(f.accept(2, 5));
        // A sender that restarts its numbering far back is followed, not muted.
        assert!(f.accept(2, 1000));
        assert!(f.accept(2, 3));
        assert!(f.accept(2, 4));
    }
}
