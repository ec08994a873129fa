//! The wallboard task end to end (in process): a real routing task and event writer, events
//! appended as the call layer would, snapshots read as a socket would.
use super::Supervisor;
use crate::acd::router::Input;
use crate::events::{now_ms, Event};
use crate::store::test_support::{sqlite_store, TempDir};
use crate::store::{EventWriter, WriterConfig};
use std::path::Path;
use std::time::{Duration, Instant};

const QUEUES: &str = r#"
skills = ["network"]
languages = ["english"]
[[queues]]
name = "network"
required = { network = 1 }
sl_threshold_s = 20
"#;
const AGENTS: &str = r#"
[[agents]]
id = "ann"
name = "Ann"
skills = { network = 2 }
"#;

fn snapshot(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_board_within_a_second_and_snapshots_stay_at_most_four_a_second() {
    let ts = sqlite_store("hub").await;
    let spill = TempDir::new("hub-spill");
    let writer = EventWriter::start(
        &ts.store,
        WriterConfig {
            spill_dir: spill.path().to_path_buf(),
            ..WriterConfig::default()
        },
    )
    .expect("writer");
    let events = writer.handle();
    let acd = crate::acd::config::load_str("q.toml", QUEUES, Some((Path::new("a.toml"), AGENTS)))
        .expect("config")
        .config;
    let settings = crate::config::parse(Path::new("h.toml"), "").expect("settings");
    let router = crate::acd::service::spawn(acd.clone(), events.clone(), vec![]);
    let metrics = crate::metrics::Metrics::new();
    let sup = Supervisor::start(
        &settings,
        &acd,
        ts.store.clone(),
        events.clone(),
        router.clone(),
        metrics.clone(),
        None,
        tokio_util::sync::CancellationToken::new(),
    );
    let mut rx = sup.subscribe();
    // The first snapshot comes without any event (heartbeat).
    tokio::time::timeout(Duration::from_secs(3), rx.changed())
        .await
        .expect("a first snapshot")
        .expect("open");
    // An agent logs in: the router's state change event reaches the board.
    let t0 = Instant::now();
    router.send(Input::AgentLogin {
        agent: "ann".into(),
        ready: true,
    });
    loop {
        tokio::time::timeout(Duration::from_secs(2), rx.changed())
            .await
            .expect("a snapshot after the login")
            .expect("open");
        let s = snapshot(&rx.borrow_and_update());
        if s["agents"][0]["state"] == "available" {
            break;
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // A stream of calls for 2.5 s: snapshots keep coming, at most 4 a second, each within a
    // second of its oldest event.
    let start = Instant::now();
    let mut got = 0;
    let mut worst = 0i64;
    let mut n = 0;
    while start.elapsed() < Duration::from_millis(2500) {
        n += 1;
        let call = format!("c{n}");
        let at = now_ms();
        let ev = Event::CallArrived {
            caller: "+447700900123".into(),
            called: "+442079460000".into(),
            transport: "UDP",
            asserted: false,
        };
        events.append(ev.record(Some(&call), at));
        events.append(
            Event::CallEnded {
                cause: "caller_hangup".into(),
            }
            .record(Some(&call), at),
        );
        if rx.has_changed().unwrap_or(false) {
            let s = snapshot(&rx.borrow_and_update());
            let oldest = s["events"]["first_at_ms"].as_i64().unwrap_or(now_ms());
            worst = worst.max(now_ms() - oldest);
            got += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        (6..=11).contains(&got),
        "{got} snapshots in 2.5 s: at most 4 a second"
    );
    assert!(worst < 1000, "oldest event waited {worst} ms");
    let s = snapshot(&rx.borrow());
    assert!(s["received_today"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!(s["queues"][0]["agents"]["available"], 1);
    let text = metrics.render();
    assert!(
        text.contains("helpline_agents{state=\"available\"} 1"),
        "{text}"
    );
    writer
        .shutdown(Duration::from_secs(5))
        .await
        .expect("flush");
    ts.finish().await;
}
