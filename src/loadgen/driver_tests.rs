//! End-to-end tests of the load generator against the fake UAS over real UDP sockets.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::fake_uas::{FakeUas, FakeUasConfig};
use super::{run, Mode, Options};

fn options(uas: &FakeUas, mode: Mode) -> Options {
    Options {
        target: uas.addr,
        bind: "127.0.0.1".parse().unwrap(),
        mode,
        server_pid: Some(std::process::id()),
        ..Options::default()
    }
}

fn constant(rate: f64, secs: f64) -> Mode {
    Mode::Constant {
        rate,
        duration: Duration::from_secs_f64(secs),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_at_100_per_second_all_complete() {
    let uas = FakeUas::spawn(FakeUasConfig::default()).await.unwrap();
    let report = run(options(&uas, constant(100.0, 2.0))).await.unwrap();
    let s = &report.steps[0];
    assert_eq!(
        (s.attempted, s.completed, s.failed),
        (200, 200, 0),
        "{report}"
    );
    assert_eq!(s.invite_retransmissions + s.bye_retransmissions, 0);
    assert!(s.passed);
    assert!(
        s.achieved_cps > 95.0 && s.achieved_cps <= 100.5,
        "{}",
        s.achieved_cps
    );
    assert!(s.latency_p50_ms > 0.0 && s.latency_p99_ms < 200.0);
    assert!(
        s.server_cpu_us_per_call.is_some(),
        "the test process is the server here"
    );
    assert_eq!(uas.counters.acks.load(Ordering::Relaxed), 200);
    assert_eq!(uas.counters.byes.load(Ordering::Relaxed), 200);
    assert_eq!(report.best_rate, Some(100.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_invite_is_retransmitted_and_counted() {
    let cfg = FakeUasConfig {
        drop_first_invites: 1,
        ..Default::default()
    };
    let uas = FakeUas::spawn(cfg).await.unwrap();
    let mut opts = options(&uas, constant(10.0, 0.5));
    opts.sockets = 1;
    let report = run(opts).await.unwrap();
    let s = &report.steps[0];
    assert_eq!((s.completed, s.failed), (5, 0), "{report}");
    assert_eq!(s.invite_retransmissions, 1);
    assert!(
        s.passed && !s.clean,
        "a retransmission makes the step unclean"
    );
    assert_eq!(
        (report.best_rate, report.best_clean_rate),
        (Some(10.0), None)
    );
    // The retransmitted call was answered about T1 (500 ms) after it was first sent.
    assert!(s.latency_max_ms >= 490.0, "{}", s.latency_max_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_failures_counted_by_reason() {
    let cfg = FakeUasConfig {
        reject: Some(486),
        ..Default::default()
    };
    let uas = FakeUas::spawn(cfg).await.unwrap();
    let report = run(options(&uas, constant(50.0, 0.4))).await.unwrap();
    let s = &report.steps[0];
    assert_eq!(
        (s.attempted, s.completed, s.failed),
        (20, 0, 20),
        "{report}"
    );
    assert_eq!(s.failures.get("INVITE 486"), Some(&20));
    assert!(!s.passed);
    assert_eq!(report.best_rate, None);
    assert_eq!(
        uas.counters.acks.load(Ordering::Relaxed),
        20,
        "each 486 ACKed"
    );
    assert!(report.to_string().contains("INVITE 486"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stepped_runs_each_step_and_reports_the_best() {
    let uas = FakeUas::spawn(FakeUasConfig::default()).await.unwrap();
    let mode = Mode::Stepped {
        start: 50.0,
        step: 50.0,
        max: 150.0,
        step_duration: Duration::from_millis(600),
    };
    let report = run(options(&uas, mode)).await.unwrap();
    let rates: Vec<f64> = report.steps.iter().map(|s| s.offered_rate).collect();
    assert_eq!(rates, vec![50.0, 100.0, 150.0], "{report}");
    assert!(report
        .steps
        .iter()
        .all(|s| s.passed && s.completed == s.attempted));
    assert_eq!(report.steps[2].completed, 90);
    assert_eq!(report.best_rate, Some(150.0));
    assert_eq!(report.best_clean_rate, Some(150.0));
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["steps"][1]["completed"], 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stepped_stops_at_the_first_failing_step() {
    let cfg = FakeUasConfig {
        reject: Some(503),
        ..Default::default()
    };
    let uas = FakeUas::spawn(cfg).await.unwrap();
    let mode = Mode::Stepped {
        start: 20.0,
        step: 20.0,
        max: 100.0,
        step_duration: Duration::from_millis(300),
    };
    let report = run(options(&uas, mode)).await.unwrap();
    assert_eq!(report.steps.len(), 1, "{report}");
    assert_eq!(report.best_rate, None);
    assert!(report.stop_reason.contains("20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_dialogs_are_held_then_released() {
    let uas = FakeUas::spawn(FakeUasConfig::default()).await.unwrap();
    let mut opts = options(
        &uas,
        Mode::Concurrent {
            calls: 300,
            rate: 1000.0,
        },
    );
    opts.hold = Duration::from_millis(300);
    let report = run(opts).await.unwrap();
    let c = report.concurrent.as_ref().unwrap();
    assert_eq!((c.established, c.held), (300, 300), "{report}");
    assert_eq!((c.total.completed, c.total.failed), (300, 0));
    assert_eq!(uas.counters.byes.load(Ordering::Relaxed), 300);
}

#[tokio::test]
async fn nonsense_options_are_refused() {
    let opts = Options {
        sockets: 0,
        ..Options::default()
    };
    assert!(run(opts).await.is_err());
    let opts = Options {
        mode: constant(0.0, 1.0),
        ..Options::default()
    };
    assert!(run(opts).await.is_err());
}
