//! Tests of the event writer: batching, spill and replay, failing databases, shutdown, and a
//! real PostgreSQL outage (stopped and restarted with `tests/setup/pg-test-*.sh`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::super::derive::{CALL_ANSWERED, CALL_ARRIVED, CALL_ENDED};
use super::super::spill::Spill;
use super::super::test_support::{ev, pg_store, pg_url, test_stores, TempDir};
use super::super::{PoolConfig, Store, StoreError};
use super::*;

fn config(spill_dir: &Path) -> WriterConfig {
    WriterConfig {
        spill_dir: spill_dir.to_path_buf(),
        retry_min: Duration::from_millis(10),
        retry_max: Duration::from_millis(100),
        ..WriterConfig::default()
    }
}

/// Three lifecycle events per call plus one other event: `4 * calls` events.
fn call_events(prefix: &str, calls: usize) -> Vec<EventRecord> {
    let mut out = Vec::with_capacity(calls * 4);
    for c in 0..calls {
        let call = format!("{prefix}-call-{c}");
        let at = 1_700_000_000_000 + c as i64 * 10;
        out.push(ev(
            &format!("{call}-1"),
            &call,
            CALL_ARRIVED,
            at,
            r#"{"caller":"+442079460000","called":"+448000"}"#,
        ));
        out.push(ev(
            &format!("{call}-2"),
            &call,
            "call.queued",
            at + 1,
            r#"{"queue":"support"}"#,
        ));
        out.push(ev(
            &format!("{call}-3"),
            &call,
            CALL_ANSWERED,
            at + 2,
            r#"{"agent":"alice"}"#,
        ));
        out.push(ev(
            &format!("{call}-4"),
            &call,
            CALL_ENDED,
            at + 3,
            r#"{"cause":"agent-hangup"}"#,
        ));
    }
    out
}

/// Every stored event id, asserting none appears twice.
async fn stored_ids(store: &Store) -> HashSet<String> {
    let all = store.events_after(0, i64::MAX).await.unwrap();
    let ids: HashSet<String> = all.iter().map(|e| e.event.id.clone()).collect();
    assert_eq!(ids.len(), all.len(), "an event id is stored twice");
    ids
}

fn ids_of(events: &[EventRecord]) -> HashSet<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

fn spill_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// A store whose schema was never created: every batch fails like a broken database.
async fn unmigrated_sqlite(dir: &TempDir) -> Store {
    Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("empty.db").display()
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn appended_events_are_stored_once_with_their_call_rows() {
    for t in test_stores("writer_basic").await {
        let spill = TempDir::new("writer_basic_spill");
        let writer = EventWriter::start(&t.store, config(spill.path())).unwrap();
        let h = writer.handle();
        let events = call_events("b", 500);
        for e in &events {
            h.append(e.clone());
        }
        h.flush(Duration::from_secs(30)).await.unwrap();
        assert_eq!(stored_ids(&t.store).await, ids_of(&events), "{}", t.label);
        assert_eq!(h.metrics().written.load(Relaxed), 2000, "{}", t.label);
        assert_eq!(h.metrics().queue_depth.load(Relaxed), 0);
        assert_eq!(
            h.metrics().spilled.load(Relaxed),
            0,
            "nothing needed to spill"
        );
        let row = t.store.call("b-call-7").await.unwrap().expect("calls row");
        assert_eq!(row.arrived_ms, Some(1_700_000_000_070), "{}", t.label);
        assert_eq!(row.ended_ms, Some(1_700_000_000_073));
        assert_eq!(row.queue.as_deref(), Some("support"));
        assert_eq!(row.agent.as_deref(), Some("alice"));
        assert_eq!(row.cause.as_deref(), Some("agent-hangup"));
        // Appending an already stored event again changes nothing.
        h.append(events[0].clone());
        writer.shutdown(Duration::from_secs(10)).await.unwrap();
        assert_eq!(t.store.event_count().await.unwrap(), 2000, "{}", t.label);
        assert!(spill_files(spill.path()).is_empty());
        t.finish().await;
    }
}

#[tokio::test]
async fn past_the_memory_bound_events_spill_and_still_land_once() {
    for t in test_stores("writer_spill").await {
        let spill = TempDir::new("writer_spill_dir");
        let cfg = WriterConfig {
            queue_bound: 50,
            batch_max: 20,
            ..config(spill.path())
        };
        let writer = EventWriter::start(&t.store, cfg).unwrap();
        let h = writer.handle();
        let events = call_events("s", 250);
        for e in &events {
            h.append(e.clone());
        }
        // This runtime has one thread: the writer has not run yet.
        assert_eq!(h.metrics().queue_depth.load(Relaxed), 50);
        assert_eq!(h.metrics().spilled.load(Relaxed), 950);
        assert_eq!(h.pending(), 1000);
        assert!(!spill_files(spill.path()).is_empty());
        h.flush(Duration::from_secs(30)).await.unwrap();
        assert_eq!(stored_ids(&t.store).await, ids_of(&events), "{}", t.label);
        assert!(
            spill_files(spill.path()).is_empty(),
            "replayed files are deleted"
        );
        // Once the spill is drained, new events use memory again.
        h.append(ev("late", "late-call", CALL_ARRIVED, 1, "{}"));
        assert_eq!(h.metrics().spilled.load(Relaxed), 950);
        writer.shutdown(Duration::from_secs(10)).await.unwrap();
        assert_eq!(t.store.event_count().await.unwrap(), 1001);
        t.finish().await;
    }
}

#[tokio::test]
async fn a_crashed_writers_spill_is_replayed_once_by_the_next_writer() {
    for t in test_stores("writer_replay").await {
        let scratch = TempDir::new("writer_replay_scratch");
        let spill = TempDir::new("writer_replay_spill");
        let events = call_events("r", 25);
        // Five of them were already stored before the crash (a commit whose reply was lost).
        t.store.insert_events(&events[..5]).await.unwrap();

        let broken = unmigrated_sqlite(&scratch).await;
        let cfg = WriterConfig {
            queue_bound: 0,
            ..config(spill.path())
        };
        let first = EventWriter::start(&broken, cfg.clone()).unwrap();
        let h = first.handle();
        for e in &events {
            h.append(e.clone());
        }
        assert_eq!(h.metrics().spilled.load(Relaxed), 100);
        assert!(
            wait_until(Duration::from_secs(5), || h
                .metrics()
                .failed_batches
                .load(Relaxed)
                > 0)
            .await
        );
        first.abort();
        assert!(
            !spill_files(spill.path()).is_empty(),
            "the spill outlives the crash"
        );

        let second = EventWriter::start(&t.store, cfg).unwrap();
        let h2 = second.handle();
        assert_eq!(h2.pending(), 100, "leftovers counted at start");
        h2.flush(Duration::from_secs(30)).await.unwrap();
        assert_eq!(stored_ids(&t.store).await, ids_of(&events), "{}", t.label);
        assert_eq!(h2.metrics().written.load(Relaxed), 95, "{}", t.label);
        assert_eq!(h2.metrics().duplicates.load(Relaxed), 5, "{}", t.label);
        assert!(spill_files(spill.path()).is_empty());
        second.shutdown(Duration::from_secs(5)).await.unwrap();
        broken.close().await;
        t.finish().await;
    }
}

#[tokio::test]
async fn a_failing_database_loses_nothing_and_catches_up() {
    let dir = TempDir::new("writer_failing");
    let store = unmigrated_sqlite(&dir).await;
    let cfg = WriterConfig {
        queue_bound: 100,
        batch_max: 50,
        ..config(&dir.path().join("spill"))
    };
    let writer = EventWriter::start(&store, cfg).unwrap();
    let h = writer.handle();
    let events = call_events("f", 250);
    let start = Instant::now();
    for e in &events {
        h.append(e.clone());
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "append waited: {:?}",
        start.elapsed()
    );
    assert!(
        wait_until(Duration::from_secs(5), || h
            .metrics()
            .failed_batches
            .load(Relaxed)
            >= 2)
        .await
    );
    assert_eq!(h.pending(), 1000, "nothing dropped while failing");
    assert!(h.metrics().spilled.load(Relaxed) >= 850);
    let err = h.flush(Duration::from_millis(50)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::FlushTimeout { pending: 1000, .. }),
        "{err}"
    );

    store.migrate().await.unwrap(); // the database "comes back"
    h.flush(Duration::from_secs(30)).await.unwrap();
    assert_eq!(stored_ids(&store).await, ids_of(&events));
    let row = store.call("f-call-249").await.unwrap().expect("calls row");
    assert_eq!(row.answered_ms, Some(1_700_000_002_492));
    writer.shutdown(Duration::from_secs(5)).await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn shutdown_spills_what_it_could_not_store_for_the_next_start() {
    let dir = TempDir::new("writer_shutdown");
    let spill_dir = dir.path().join("spill");
    let broken = unmigrated_sqlite(&dir).await;
    let writer = EventWriter::start(&broken, config(&spill_dir)).unwrap();
    let h = writer.handle();
    let events = call_events("x", 10);
    for e in &events {
        h.append(e.clone());
    }
    let err = writer
        .shutdown(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::FlushTimeout { pending: 40, .. }),
        "{err}"
    );
    let (_, waiting) = Spill::open(&spill_dir).unwrap();
    assert_eq!(waiting, 40, "everything unstored went to the spill");
    // Appends after shutdown are not lost either.
    h.append(ev("after", "x-call-0", "call.note", 5, "{}"));

    let good = super::super::test_support::sqlite_store("writer_shutdown_next").await;
    let next = EventWriter::start(&good.store, config(&spill_dir)).unwrap();
    next.handle().flush(Duration::from_secs(30)).await.unwrap();
    let mut want = ids_of(&events);
    want.insert("after".into());
    assert_eq!(stored_ids(&good.store).await, want);
    next.shutdown(Duration::from_secs(5)).await.unwrap();
    broken.close().await;
    good.finish().await;
}

#[tokio::test]
async fn shutdown_spills_memory_ahead_of_the_spill_so_the_next_start_keeps_the_order() {
    let dir = TempDir::new("writer_shutdown_order");
    let spill_dir = dir.path().join("spill");
    let broken = unmigrated_sqlite(&dir).await;
    let cfg = WriterConfig {
        queue_bound: 5,
        batch_max: 2,
        ..config(&spill_dir)
    };
    let writer = EventWriter::start(&broken, cfg.clone()).unwrap();
    let h = writer.handle();
    // 5 events wait in memory (2 of them soon in flight), the 15 newer ones spill.
    let events = call_events("o", 5);
    for e in &events {
        h.append(e.clone());
    }
    assert_eq!(h.metrics().spilled.load(Relaxed), 15);
    writer
        .shutdown(Duration::from_millis(200))
        .await
        .unwrap_err();

    let good = super::super::test_support::sqlite_store("writer_shutdown_order_next").await;
    let next = EventWriter::start(&good.store, cfg).unwrap();
    next.handle().flush(Duration::from_secs(30)).await.unwrap();
    let stored: Vec<String> = good
        .store
        .events_after(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.id)
        .collect();
    let appended: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(stored, appended, "replayed in the order they were appended");
    next.shutdown(Duration::from_secs(5)).await.unwrap();
    broken.close().await;
    good.finish().await;
}

/// A private PostgreSQL cluster this test may stop and start; purged on drop.
struct PrivatePg {
    dir: TempDir,
    port: u16,
}

impl PrivatePg {
    fn script(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/setup")
            .join(name)
    }

    fn run(&self, name: &str, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(Self::script(name))
            .args(args)
            .env("PGTEST_DIR", self.dir.path())
            .env("PGTEST_PORT", self.port.to_string())
            .output()
            .expect("run pg test script");
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn start(&self) -> String {
        self.run("pg-test-start.sh", &[])
    }

    fn stop(&self) {
        self.run("pg-test-stop.sh", &[]);
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script("pg-test-stop.sh"))
            .arg("--purge")
            .env("PGTEST_DIR", self.dir.path())
            .output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_call_every_event_lands_once_after_restart() {
    if pg_url("writer_pg_outage").is_none() {
        return;
    }
    let pg = PrivatePg {
        dir: TempDir::new("pg_outage_cluster"),
        port: free_port(),
    };
    let admin = pg.start();
    let t = pg_store("outage", &admin).await;
    let pool = PoolConfig {
        acquire_timeout: Duration::from_millis(500),
        ..PoolConfig::default()
    };
    let store = Store::connect_with(&t.url, &pool).await.unwrap();
    let spill = TempDir::new("pg_outage_spill");
    let cfg = WriterConfig {
        queue_bound: 200,
        batch_max: 100,
        retry_max: Duration::from_millis(200),
        ..config(spill.path())
    };
    let writer = EventWriter::start(&store, cfg).unwrap();
    let h = writer.handle();

    // The call arrives while PostgreSQL is up.
    let events = call_events("pg", 1000);
    let call0: Vec<EventRecord> = events
        .iter()
        .filter(|e| e.call_id.as_deref() == Some("pg-call-0"))
        .cloned()
        .collect();
    h.append(call0[0].clone());
    h.append(call0[1].clone());
    h.flush(Duration::from_secs(10)).await.unwrap();

    pg.stop();
    // Mid-call events while it is down: appends never wait.
    let start = Instant::now();
    for e in events.iter().filter(|e| !call0[..2].contains(e)) {
        h.append(e.clone());
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "appends took {took:?} with the database down"
    );
    assert!(
        wait_until(Duration::from_secs(20), || h
            .metrics()
            .failed_batches
            .load(Relaxed)
            >= 2)
        .await,
        "the writer should be failing while PostgreSQL is down"
    );
    assert!(
        h.metrics().spilled.load(Relaxed) > 0,
        "past the bound, events spill"
    );
    assert!(h.pending() > 0);

    pg.start();
    let m = h.metrics();
    eprintln!(
        "outage: failed batches {}, spilled {}, pending {} before restart",
        m.failed_batches.load(Relaxed),
        m.spilled.load(Relaxed),
        h.pending()
    );
    let restarted = Instant::now();
    h.flush(Duration::from_secs(60)).await.unwrap();
    eprintln!("outage: all stored {:?} after restart", restarted.elapsed());
    assert_eq!(
        stored_ids(&store).await,
        ids_of(&events),
        "every event exactly once"
    );
    assert_eq!(store.event_count().await.unwrap(), 4000);
    let row = store.call("pg-call-0").await.unwrap().expect("calls row");
    assert_eq!(row.arrived_ms, Some(1_700_000_000_000));
    assert_eq!(row.answered_ms, Some(1_700_000_000_002));
    assert_eq!(row.ended_ms, Some(1_700_000_000_003));
    assert_eq!(row.cause.as_deref(), Some("agent-hangup"));
    writer.shutdown(Duration::from_secs(5)).await.unwrap();
    store.close().await;
    t.finish().await;
}
