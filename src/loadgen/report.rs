//! What a load run reports: one row per step (offered and achieved rate, completed and
//! failed calls by reason, retransmissions, answer latency, CPU per call), the
//! verdict of a stepped run, and the concurrent-dialog figures; as a text table
//! (`Display`) or JSON (serde).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::stats::Stats;

/// One step (or the only step) of a run.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// New calls per second asked for.
    pub offered_rate: f64,
    /// Length of the offering window.
    pub duration_s: f64,
    /// INVITEs sent (first transmissions).
    pub attempted: u64,
    /// Calls not started because max in-flight was reached.
    pub throttled: u64,
    pub completed: u64,
    pub failed: u64,
    /// Failed calls by reason ("INVITE 486", "INVITE timeout", "BYE timeout", ...).
    pub failures: BTreeMap<String, u64>,
    /// Completed calls divided by the offering window.
    pub achieved_cps: f64,
    pub invite_retransmissions: u64,
    pub bye_retransmissions: u64,
    /// Retransmitted 200s to INVITE (each re-ACKed).
    pub ok_retransmissions: u64,
    /// Responses for calls no longer known.
    pub stray_responses: u64,
    pub unparsable: u64,
    /// INVITE sent → 200 received.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Server CPU (utime+stime, with child processes) over the step, per completed call.
    pub server_cpu_us_per_call: Option<f64>,
    pub server_cpu_ms: Option<f64>,
    /// This generator's own CPU per completed call.
    pub loadgen_cpu_us_per_call: Option<f64>,
    /// No failed call, and every call the rate asked for was offered.
    pub passed: bool,
    /// Passed without a single INVITE or BYE retransmission: the server kept up
    /// (on loopback, where nothing is lost, a retransmission means 500 ms unanswered).
    pub clean: bool,
}

fn per_call(cpu: Option<Duration>, calls: u64) -> Option<f64> {
    cpu.filter(|_| calls > 0)
        .map(|d| d.as_secs_f64() * 1e6 / calls as f64)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl StepReport {
    pub fn new(
        offered_rate: f64,
        duration: Duration,
        s: &Stats,
        server_cpu: Option<Duration>,
        own_cpu: Option<Duration>,
    ) -> StepReport {
        let failed = s.failed();
        let secs = duration.as_secs_f64();
        StepReport {
            offered_rate,
            duration_s: secs,
            attempted: s.attempted,
            throttled: s.throttled,
            completed: s.completed,
            failed,
            failures: s
                .failures
                .iter()
                .map(|(r, n)| (r.to_string(), *n))
                .collect(),
            achieved_cps: if secs > 0.0 {
                s.completed as f64 / secs
            } else {
                0.0
            },
            invite_retransmissions: s.invite_retrans,
            bye_retransmissions: s.bye_retrans,
            ok_retransmissions: s.ok_retrans,
            stray_responses: s.stray,
            unparsable: s.unparsable,
            latency_p50_ms: ms(s.latency.quantile(0.5)),
            latency_p99_ms: ms(s.latency.quantile(0.99)),
            latency_max_ms: ms(s.latency.max()),
            server_cpu_us_per_call: per_call(server_cpu, s.completed),
            server_cpu_ms: server_cpu.map(|d| d.as_secs_f64() * 1e3),
            loadgen_cpu_us_per_call: per_call(own_cpu, s.completed),
            passed: failed == 0 && s.throttled == 0 && s.attempted > 0,
            clean: failed == 0
                && s.throttled == 0
                && s.attempted > 0
                && s.invite_retrans == 0
                && s.bye_retrans == 0,
        }
    }
}

/// Figures of a `--concurrent` run.
#[derive(Clone, Debug, Serialize)]
pub struct ConcurrentReport {
    /// Dialogs asked for.
    pub target: u64,
    /// Dialogs answered (2xx) during set-up.
    pub established: u64,
    /// Dialogs still up at the end of the hold.
    pub held: u64,
    pub hold_s: f64,
    /// Set-up, hold and release: every call of the run.
    pub total: StepReport,
    /// What the simulated callers' media did (with `--rtp` / `--digits`).
    pub media: Option<super::caller_media::MediaCounts>,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// "constant", "stepped" or "concurrent".
    pub mode: String,
    pub target: String,
    pub sockets: usize,
    pub hold_ms: u64,
    pub steps: Vec<StepReport>,
    /// Highest offered rate whose step passed (no failed call, all offered).
    pub best_rate: Option<f64>,
    /// Server CPU per call at that rate.
    pub best_server_cpu_us_per_call: Option<f64>,
    /// Highest offered rate whose step was clean (passed, and no retransmission).
    pub best_clean_rate: Option<f64>,
    /// Server CPU per call at that rate.
    pub best_clean_server_cpu_us_per_call: Option<f64>,
    pub stop_reason: String,
    pub concurrent: Option<ConcurrentReport>,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

fn write_step(f: &mut fmt::Formatter<'_>, s: &StepReport) -> fmt::Result {
    writeln!(
        f,
        "{:>8.0} {:>9.1} {:>9} {:>9} {:>7} {:>6}/{}/{} {:>7.2} {:>7.2} {:>8.2} {:>10} {:>10}",
        s.offered_rate,
        s.achieved_cps,
        s.attempted,
        s.completed,
        s.failed,
        s.invite_retransmissions,
        s.bye_retransmissions,
        s.ok_retransmissions,
        s.latency_p50_ms,
        s.latency_p99_ms,
        s.latency_max_ms,
        opt(s.server_cpu_us_per_call),
        opt(s.loadgen_cpu_us_per_call),
    )?;
    for (reason, n) in &s.failures {
        writeln!(f, "{:>8} failed: {reason} × {n}", "")?;
    }
    if s.throttled > 0 {
        writeln!(f, "{:>8} not offered (max in-flight): {}", "", s.throttled)?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "SIP load → {} ({} mode, {} sockets, hold {} ms)",
            self.target, self.mode, self.sockets, self.hold_ms
        )?;
        writeln!(
            f,
            "{:>8} {:>9} {:>9} {:>9} {:>7} {:>10} {:>7} {:>7} {:>8} {:>10} {:>10}",
            "offered",
            "achieved",
            "attempted",
            "completed",
            "failed",
            "retr I/B/2",
            "p50 ms",
            "p99 ms",
            "max ms",
            "srv µs/cl",
            "gen µs/cl"
        )?;
        for s in &self.steps {
            write_step(f, s)?;
        }
        if let Some(c) = &self.concurrent {
            writeln!(
                f,
                "dialogs: {} asked, {} established, {} held for {:.1} s",
                c.target, c.established, c.held, c.hold_s
            )?;
            write_step(f, &c.total)?;
            if let Some(m) = &c.media {
                writeln!(
                    f,
                    "caller media: {} calls, RTP {} sent / {} received, {} key presses sent, {} calls heard nothing",
                    m.calls, m.rtp_sent, m.rtp_received, m.digits_sent, m.calls_without_audio
                )?;
            }
        }
        if let Some(rate) = self.best_clean_rate {
            writeln!(
                f,
                "highest rate with no failure and no retransmission: {rate:.0} calls/s (server {} µs CPU per call)",
                opt(self.best_clean_server_cpu_us_per_call)
            )?;
        }
        match self.best_rate {
            Some(rate) => writeln!(
                f,
                "highest rate with zero failed calls: {rate:.0} calls/s (server {} µs CPU per call)",
                opt(self.best_server_cpu_us_per_call)
            )?,
            None if self.concurrent.is_none() => {
                writeln!(f, "no step passed with zero failed calls")?
            }
            None => {}
        }
        writeln!(f, "stopped: {}", self.stop_reason)
    }
}
