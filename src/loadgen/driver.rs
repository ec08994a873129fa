//! Runs a load test: opens the sockets (one shard each), then drives the mode —
//! one constant step, stepped rates until the first failing step, or N concurrent
//! dialogs held and released — measuring CPU around each step and waiting for every
//! call of a step to finish before the next one starts.

use std::io;
use std::time::{Duration, Instant};

use super::caller_media::MediaConfig;
use super::cpu::CpuMeter;
use super::msg::Party;
use super::report::{ConcurrentReport, Report, StepReport};
use super::shard::{Cmd, Shard, Status};
use super::stats::Stats;
use super::uac::UacConfig;
use super::{Mode, Options};

const POLL: Duration = Duration::from_millis(50);

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

fn check(opts: &Options) -> io::Result<()> {
    if opts.sockets == 0 {
        return Err(invalid("sockets must be at least 1"));
    }
    if opts.t1.is_zero() {
        return Err(invalid("T1 must be positive"));
    }
    let rates_ok = match &opts.mode {
        Mode::Constant { rate, duration } => *rate > 0.0 && !duration.is_zero(),
        Mode::Stepped {
            start,
            step,
            max,
            step_duration,
        } => *start > 0.0 && *step > 0.0 && max >= start && !step_duration.is_zero(),
        Mode::Concurrent { calls, rate } => *calls > 0 && *rate > 0.0,
    };
    if !rates_ok {
        return Err(invalid(
            "rates, counts and durations must be positive (and max ≥ start)",
        ));
    }
    Ok(())
}

/// Runs the load described by `opts` and reports it. Errors only when the sockets
/// cannot be opened or the options make no sense; failed calls are in the report.
pub async fn run(opts: Options) -> io::Result<Report> {
    check(&opts)?;
    let shards = open_shards(&opts)?;
    let mut report = Report {
        mode: String::new(),
        target: opts.target.to_string(),
        sockets: shards.len(),
        hold_ms: opts.hold.as_millis() as u64,
        steps: Vec::new(),
        best_rate: None,
        best_server_cpu_us_per_call: None,
        best_clean_rate: None,
        best_clean_server_cpu_us_per_call: None,
        stop_reason: String::new(),
        concurrent: None,
    };
    match opts.mode.clone() {
        Mode::Constant { rate, duration } => {
            report.mode = "constant".into();
            let step = run_step(&shards, &opts, rate, duration).await;
            report.stop_reason = "duration elapsed".into();
            record(&mut report, step);
        }
        Mode::Stepped {
            start,
            step,
            max,
            step_duration,
        } => {
            report.mode = "stepped".into();
            report.stop_reason = format!("reached the maximum rate {max}");
            let mut rate = start;
            while rate <= max + 1e-9 {
                let s = run_step(&shards, &opts, rate, step_duration).await;
                let passed = s.passed;
                record(&mut report, s);
                if !passed {
                    report.stop_reason =
                        format!("step at {rate} calls/s had failed or unoffered calls");
                    break;
                }
                rate += step;
            }
        }
        Mode::Concurrent { calls, rate } => {
            report.mode = "concurrent".into();
            let c = run_concurrent(&shards, &opts, calls, rate).await;
            report.stop_reason = "all dialogs released".into();
            report.concurrent = Some(c);
        }
    }
    Ok(report)
}

/// [`run`] on a single-threaded tokio runtime of its own, for a CLI. One thread
/// serving every socket costs about half the CPU per call of a multi-threaded
/// runtime (no cross-thread wake-ups), which leaves more of the machine to the server.
pub fn run_blocking(opts: Options) -> io::Result<Report> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(opts))
}

fn record(report: &mut Report, step: StepReport) {
    if step.passed && report.best_rate.is_none_or(|b| step.offered_rate > b) {
        report.best_rate = Some(step.offered_rate);
        report.best_server_cpu_us_per_call = step.server_cpu_us_per_call;
    }
    if step.clean && report.best_clean_rate.is_none_or(|b| step.offered_rate > b) {
        report.best_clean_rate = Some(step.offered_rate);
        report.best_clean_server_cpu_us_per_call = step.server_cpu_us_per_call;
    }
    report.steps.push(step);
}

fn open_shards(opts: &Options) -> io::Result<Vec<Shard>> {
    let run_tag = {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{:x}", (std::process::id() << 20) ^ nanos)
    };
    let per_shard_max = opts.max_in_flight.div_ceil(opts.sockets).max(1);
    let media = opts.rtp || opts.digits.is_some();
    (0..opts.sockets)
        .map(|i| {
            Shard::spawn(
                opts.bind,
                opts.target,
                per_shard_max,
                media,
                |local, rtp_port| UacConfig {
                    party: Party {
                        local,
                        target: opts.target,
                        number: opts.number.clone(),
                        from_user: opts.from_user.clone(),
                    },
                    hold: None,
                    t1: opts.t1,
                    tag: format!("{run_tag}-{i}"),
                    media: rtp_port.map(|rtp_port| MediaConfig {
                        rtp_port,
                        digits: opts.digits.clone(),
                    }),
                },
            )
        })
        .collect()
}

async fn statuses(shards: &[Shard]) -> Vec<Status> {
    let mut all = Vec::with_capacity(shards.len());
    for s in shards {
        all.push(s.status().await.unwrap_or_default());
    }
    all
}

/// Polls until `done` holds for every shard (a shard whose task died counts as idle).
async fn wait_until(shards: &[Shard], done: impl Fn(&Status) -> bool) -> Vec<Status> {
    loop {
        let all = statuses(shards).await;
        if all.iter().all(&done) {
            return all;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn take_stats(shards: &[Shard]) -> Stats {
    let mut total = Stats::default();
    for s in shards {
        total.merge(&s.take_stats().await);
    }
    total
}

/// Splits `total` over `n` shards as evenly as possible.
fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

fn set_hold(shards: &[Shard], hold: Option<Duration>) {
    for s in shards {
        s.send(Cmd::SetHold(hold));
    }
}

async fn run_step(shards: &[Shard], opts: &Options, rate: f64, duration: Duration) -> StepReport {
    set_hold(shards, Some(opts.hold));
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let n = shards.len();
    let cpu = CpuMeter::start(opts.server_pid);
    for (i, s) in shards.iter().enumerate() {
        s.send(Cmd::Generate {
            rate: rate / n as f64,
            total: share(total, n, i),
        });
    }
    wait_until(shards, |s| !s.pacing && s.load.in_flight == 0).await;
    let (server, own) = cpu.stop();
    let stats = take_stats(shards).await;
    StepReport::new(rate, duration, &stats, server, own)
}

async fn run_concurrent(
    shards: &[Shard],
    opts: &Options,
    calls: u64,
    rate: f64,
) -> ConcurrentReport {
    set_hold(shards, None);
    let n = shards.len();
    let cpu = CpuMeter::start(opts.server_pid);
    let started = Instant::now();
    for (i, s) in shards.iter().enumerate() {
        s.send(Cmd::Generate {
            rate: rate / n as f64,
            total: share(calls, n, i),
        });
    }
    let up = wait_until(shards, |s| !s.pacing && s.load.unanswered == 0).await;
    let established: u64 = up.iter().map(|s| s.load.established as u64).sum();
    tokio::time::sleep(opts.hold).await;
    let held: u64 = statuses(shards)
        .await
        .iter()
        .map(|s| s.load.established as u64)
        .sum();
    for s in shards {
        s.send(Cmd::Release {
            rate: rate / n as f64,
        });
    }
    let done = wait_until(shards, |s| !s.pacing && s.load.in_flight == 0).await;
    let (server, own) = cpu.stop();
    let stats = take_stats(shards).await;
    let media = done.iter().filter_map(|s| s.media).reduce(|mut a, b| {
        a.merge(&b);
        a
    });
    ConcurrentReport {
        target: calls,
        established,
        held,
        hold_s: opts.hold.as_secs_f64(),
        total: StepReport::new(rate, started.elapsed(), &stats, server, own),
        media,
    }
}
