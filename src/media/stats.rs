//! Engine-wide metrics as plain atomic counters (`MediaStats`), for the Prometheus exposition
//! the main crate builds; includes the send-interval deviation histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (µs) of the send-interval deviation histogram buckets; the last bucket is +Inf.
pub const SEND_JITTER_BOUNDS_US: [u64; 10] = [
    250, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 10_000, 20_000, 50_000,
];

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Engine counters; all monotonic except `active_sessions` and `active_recordings`.
        #[derive(Debug, Default)]
        pub struct MediaStats {
            $( $(#[$doc])* pub $name: AtomicU64, )*
            /// Send-interval deviation histogram, one slot per bound plus +Inf (not cumulative).
            pub send_jitter_buckets: [AtomicU64; SEND_JITTER_BOUNDS_US.len() + 1],
        }

        /// A copy of the counters at one moment.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct MediaStatsSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
            /// Send-interval deviation histogram (per bucket, not cumulative).
            pub send_jitter_buckets: Vec<u64>,
        }

        impl MediaStats {
            /// Reads every counter.
            pub fn snapshot(&self) -> MediaStatsSnapshot {
                MediaStatsSnapshot {
                    $( $name: self.$name.load(Ordering::Relaxed), )*
                    send_jitter_buckets: self.send_jitter_buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
                }
            }
        }
    };
}

counters! {
    /// Sessions (RTP streams) open now.
    active_sessions,
    /// RTP + RTCP packets received.
    packets_in,
    /// RTP + RTCP packets sent.
    packets_out,
    /// Bytes received.
    bytes_in,
    /// Bytes sent.
    bytes_out,
    /// Packets lost by remote senders (from sequence numbers).
    packets_lost,
    /// Packets that came after a newer one had been played/relayed, or duplicates.
    late_packets,
    /// Datagrams that were not valid RTP (truncated, bad version, bad padding …).
    malformed_packets,
    /// RTP with a payload type not negotiated for the session.
    wrong_payload_type,
    /// RTP/RTCP from an address other than the latched peer (RTP Bleed attempts).
    foreign_source_packets,
    /// RTCP datagrams that did not parse.
    rtcp_malformed,
    /// Packets relayed through a µ-law ⇄ A-law table.
    transcoded_packets,
    /// Frames dropped because a relay/mixer buffer was full.
    buffer_overflows,
    /// Frames dropped to bring relay latency back down after a burst.
    buffer_trims,
    /// DTMF digits received (RFC 4733 and in-band).
    dtmf_digits,
    /// Sends that failed (socket buffer full, unreachable).
    send_errors,
    /// Events dropped because the call layer did not read its channel.
    events_dropped,
    /// Sessions that hit the media timeout.
    media_timeouts,
    /// Recordings running now.
    active_recordings,
    /// Recording chunks dropped because the writer fell behind.
    recording_chunks_dropped,
    /// Prompt files refused at load.
    prompt_load_errors,
    /// Worker ticks whose processing took longer than 20 ms.
    worker_overruns,
    /// Ticks a worker had to catch up on because it woke late.
    ticks_caught_up,
    /// Sum of every send-interval deviation in the histogram, microseconds.
    send_jitter_sum_us,
}

impl MediaStats {
    /// Adds one observation of |interval − 20 ms| between two consecutive sends of a stream.
    pub fn record_send_deviation(&self, deviation: Duration) {
        if let Some(b) = self.send_jitter_buckets.get(send_jitter_bucket(deviation)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.send_jitter_sum_us
            .fetch_add(deviation.as_micros() as u64, Ordering::Relaxed);
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Histogram slot of a send-interval deviation.
pub fn send_jitter_bucket(deviation: Duration) -> usize {
    let us = deviation.as_micros() as u64;
    SEND_JITTER_BOUNDS_US
        .iter()
        .position(|&b| us <= b)
        .unwrap_or(SEND_JITTER_BOUNDS_US.len())
}

/// Hot-path counts kept by one session or worker and added to [`MediaStats`] in bulk, so the
/// workers do not fight over shared cache lines for every packet.
#[derive(Debug, Clone, Default)]
pub struct PendingStats {
    /// Packets sent.
    pub packets_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Packets transcoded.
    pub transcoded: u64,
    /// Send-interval deviation histogram.
    pub send_jitter: [u64; SEND_JITTER_BOUNDS_US.len() + 1],
    /// Sum of the deviations in `send_jitter`, microseconds.
    pub send_jitter_sum_us: u64,
}

impl PendingStats {
    /// Adds everything to `stats` and starts again from zero.
    pub fn flush(&mut self, stats: &MediaStats) {
        let p = std::mem::take(self);
        for (counter, n) in [
            (&stats.packets_out, p.packets_out),
            (&stats.bytes_out, p.bytes_out),
            (&stats.packets_in, p.packets_in),
            (&stats.bytes_in, p.bytes_in),
            (&stats.transcoded_packets, p.transcoded),
            (&stats.send_jitter_sum_us, p.send_jitter_sum_us),
        ] {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
        for (b, n) in stats.send_jitter_buckets.iter().zip(p.send_jitter) {
            if n > 0 {
                b.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

impl MediaStatsSnapshot {
    /// The Prometheus text exposition of the engine's figures (`helpline_media_*`): the
    /// send-interval deviation ("send jitter") histogram in seconds, sessions and packet,
    /// digit and overrun counters.
    pub fn prometheus(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let name = "helpline_media_send_jitter_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Deviation of each RTP send interval from 20 ms."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, n) in self.send_jitter_buckets.iter().enumerate() {
            cumulative += n;
            let le = SEND_JITTER_BOUNDS_US
                .get(i)
                .map_or("+Inf".to_string(), |us| format!("{}", *us as f64 / 1e6));
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum {}", self.send_jitter_sum_us as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {cumulative}");
        for (metric, kind, help, value) in [
            (
                "helpline_media_active_sessions",
                "gauge",
                "RTP sessions open now.",
                self.active_sessions,
            ),
            (
                "helpline_media_packets_out_total",
                "counter",
                "RTP and RTCP packets sent.",
                self.packets_out,
            ),
            (
                "helpline_media_packets_in_total",
                "counter",
                "RTP and RTCP packets received.",
                self.packets_in,
            ),
            (
                "helpline_media_dtmf_digits_total",
                "counter",
                "DTMF digits received (RFC 4733 and in-band).",
                self.dtmf_digits,
            ),
            (
                "helpline_media_send_errors_total",
                "counter",
                "RTP sends that failed.",
                self.send_errors,
            ),
            (
                "helpline_media_worker_overruns_total",
                "counter",
                "Media worker ticks that took longer than 20 ms.",
                self.worker_overruns,
            ),
            (
                "helpline_media_ticks_caught_up_total",
                "counter",
                "Media worker ticks caught up after a late wake-up.",
                self.ticks_caught_up,
            ),
            (
                "helpline_media_timeouts_total",
                "counter",
                "Sessions that hit the media timeout.",
                self.media_timeouts,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {metric} {help}\n# TYPE {metric} {kind}\n{metric} {value}"
            );
        }
        out
    }

    /// Upper bound (µs) of the bucket holding quantile `q` of the send deviation; `None` when no
    /// data, `Some(u64::MAX)` when it falls in the +Inf bucket.
    pub fn send_jitter_quantile_us(&self, q: f64) -> Option<u64> {
        let total: u64 = self.send_jitter_buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let target = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.send_jitter_buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Some(SEND_JITTER_BOUNDS_US.get(i).copied().unwrap_or(u64::MAX));
            }
        }
        Some(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_and_quantile() {
        let s = MediaStats::default();
        for _ in 0..98 {
            s.record_send_deviation(Duration::from_micros(100));
        }
        s.record_send_deviation(Duration::from_micros(4_000));
        s.record_send_deviation(Duration::from_secs(1));
        let snap = s.snapshot();
        assert_eq!(snap.send_jitter_buckets[0], 98);
        assert_eq!(snap.send_jitter_buckets[5], 1);
        assert_eq!(snap.send_jitter_buckets[10], 1);
        assert_eq!(snap.send_jitter_quantile_us(0.5), Some(250));
        assert_eq!(snap.send_jitter_quantile_us(0.99), Some(4_000));
        assert_eq!(snap.send_jitter_quantile_us(1.0), Some(u64::MAX));
        assert_eq!(
            MediaStats::default()
                .snapshot()
                .send_jitter_quantile_us(0.99),
            None
        );
    }

    #[test]
    fn the_exposition_has_a_cumulative_send_jitter_histogram_in_seconds() {
        let s = MediaStats::default();
        let mut p = PendingStats::default();
        p.send_jitter[send_jitter_bucket(Duration::from_micros(100))] += 3;
        p.send_jitter[send_jitter_bucket(Duration::from_micros(6_000))] += 1;
        p.send_jitter_sum_us = 3 * 100 + 6_000;
        p.flush(&s);
        s.dtmf_digits.store(7, Ordering::Relaxed);
        let text = s.snapshot().prometheus();
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "helpline_media_send_jitter_seconds_bucket{le=\"0.00025\"} 3",
            "helpline_media_send_jitter_seconds_bucket{le=\"0.005\"} 3",
            "helpline_media_send_jitter_seconds_bucket{le=\"0.01\"} 4",
            "helpline_media_send_jitter_seconds_bucket{le=\"+Inf\"} 4",
            "helpline_media_send_jitter_seconds_sum 0.0063",
            "helpline_media_send_jitter_seconds_count 4",
            "helpline_media_dtmf_digits_total 7",
        ] {
            assert!(lines.contains(&want), "{want} missing from\n{text}");
        }
    }
}
