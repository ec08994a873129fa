//! Screen-pop latency under load: `cargo run --release --example pop_bench -- [DB_URL]
//! [--contacts N] [--tickets-per K] [--rate POPS_PER_S] [--secs S] [--events EVENTS_PER_S]`.
//!
//! Fills the CRM with N generated contacts and N×K tickets (100,000 × 10 = 1,000,000 by default;
//! skipped when already there), then for S seconds asks for R pops per second (random callers,
//! 10% unknown numbers) while the event writer stores E events per second, as during a busy
//! day. Each figure is the server-side time of `Crm::pop` (offer → pop ready to send: number
//! normalisation, contact, open tickets, last calls, knowledge-base search). The reference row
//! is the cheapest query there is — one indexed point lookup of the caller's number — run at
//! the same rate in the same process, so the ratio says what the pop costs beyond one round trip.
use helpline::crm::{demo, Crm, PopRequest};
use helpline::events::now_ms;
use helpline::store::{EventRecord, EventWriter, Store, WriterConfig};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "sqlite://data/pop-bench.db".into());
    let contacts = arg(&args, "--contacts", 100_000) as usize;
    let per = arg(&args, "--tickets-per", 10) as usize;
    let rate = arg(&args, "--rate", 200);
    let secs = arg(&args, "--secs", 20);
    let events = arg(&args, "--events", 2000);

    let store = helpline::store::migrate(&url).await?;
    let have = store
        .list_contacts(
            "",
            helpline::store::Page {
                offset: contacts as i64 - 1,
                limit: 1,
            },
        )
        .await?;
    if have.is_empty() {
        let t = Instant::now();
        let step = 10_000;
        for start in (0..contacts).step_by(step) {
            let k = step.min(contacts - start);
            store
                .insert_contacts(&demo::bulk_contacts(start, k), now_ms())
                .await?;
            store
                .insert_tickets(&demo::bulk_tickets(start, k, per, now_ms()))
                .await?;
        }
        demo::load_articles(&store).await?;
        eprintln!(
            "generated {contacts} contacts, {} tickets in {:.0?}",
            contacts * per,
            t.elapsed()
        );
    }
    let writer = EventWriter::start(
        &store,
        WriterConfig {
            spill_dir: std::env::temp_dir().join("pop-bench-spill"),
            ..WriterConfig::default()
        },
    )?;
    let handle = writer.handle();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..events / 100 {
                    n += 1;
                    handle.append(EventRecord {
                        id: uuid::Uuid::now_v7().to_string(),
                        call_id: Some(format!("bench-{}", n / 8)),
                        kind: "ivr.step".into(),
                        at_ms: now_ms(),
                        payload: r#"{"node":"menu","step":"node_entered"}"#.into(),
                    });
                }
            }
            n
        })
    };
    let crm = Crm::new(
        store.clone(),
        helpline::config::CrmSettings::default(),
        "GB",
    );
    let pops = run(rate, secs, contacts, {
        let crm = crm.clone();
        move |caller| {
            let crm = crm.clone();
            async move {
                let pop = crm
                    .pop(&PopRequest {
                        caller,
                        now_ms: now_ms(),
                        ..Default::default()
                    })
                    .await;
                pop.status != helpline::crm::model::PopStatus::Unavailable
            }
        }
    })
    .await;
    let floor = run(rate, secs.min(10), contacts, {
        let store = store.clone();
        move |caller| {
            let store: Store = store.clone();
            async move { store.contacts_by_phone_ids(&caller).await.is_ok() }
        }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = producer.await?;
    writer.shutdown(Duration::from_secs(30)).await?;
    println!(
        "backend={} contacts={contacts} tickets={} rate={rate}/s events={events}/s (appended {appended})",
        url.split(':').next().unwrap_or("?"),
        contacts * per
    );
    for (name, (mut lat, failed)) in [("pop", pops), ("reference: one indexed lookup", floor)] {
        let n = lat.len();
        println!(
            "{name}: n={n} failed/unavailable={failed} p50={:.2} ms p99={:.2} ms max={:.2} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            pct(&mut lat, 1.0)
        );
    }
    Ok(())
}

/// Issue `rate` requests per second for `secs`, each timed; (latencies in ms, failures).
async fn run<F, Fut>(rate: u64, secs: u64, contacts: usize, f: F) -> (Vec<f64>, u64)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let lat = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut tasks = Vec::new();
    for _ in 0..rate * secs {
        tick.tick().await;
        let caller = {
            let mut rng = rand::rng();
            if rng.random_ratio(1, 10) {
                format!("+4479{:08}", rng.random_range(0..100_000_000u32))
            } else {
                // National format half the time, as trunks send it.
                let p = demo::bulk_phone(rng.random_range(0..contacts));
                if rng.random_bool(0.5) {
                    p
                } else {
                    format!("0{}", &p[3..])
                }
            }
        };
        let fut = f(caller);
        let (lat, failed) = (lat.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = fut.await;
            lat.lock().await.push(t.elapsed().as_secs_f64() * 1000.0);
            if !ok {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let v = lat.lock().await.clone();
    (v, failed.load(std::sync::atomic::Ordering::Relaxed))
}
