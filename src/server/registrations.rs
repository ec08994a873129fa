//! Registrar bindings kept in the database so they survive a restart, written in the order the
//! registrar made the changes: one writer task fed by a channel. A failed write is retried (with
//! backoff) before anything after it, so a refresh never lands before the REGISTER it follows
//! and a removal never before the binding it removes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::acd::service::RouterHandle;
use crate::events::now_ms;
use crate::sip::endpoint::RegistrationSink;
use crate::sip::registrar::{Binding, BindingChange};
use crate::store::{self, Store};

/// One write to the `registrations` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingOp {
    Upsert(store::Binding),
    Remove { aor: String, contact: String },
}

impl BindingOp {
    fn aor(&self) -> &str {
        match self {
            BindingOp::Upsert(b) => &b.aor,
            BindingOp::Remove { aor, .. } => aor,
        }
    }
}

/// Where binding writes go (the database; a fake in tests).
pub trait BindingStore: Send + Sync + 'static {
    fn apply(&self, op: &BindingOp) -> impl Future<Output = Result<(), String>> + Send;
}

impl BindingStore for Store {
    async fn apply(&self, op: &BindingOp) -> Result<(), String> {
        match op {
            BindingOp::Upsert(b) => self.upsert_binding(b).await,
            BindingOp::Remove { aor, contact } => {
                self.remove_binding(aor, contact).await.map(|_| ())
            }
        }
        .map_err(|e| e.to_string())
    }
}

/// Backoff between attempts at one write.
#[derive(Debug, Clone, Copy)]
pub struct WriteBackoff {
    pub min: Duration,
    pub max: Duration,
}

impl Default for WriteBackoff {
    fn default() -> Self {
        WriteBackoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

/// The sending side of the ordered writer.
#[derive(Clone)]
pub struct OrderedWriter {
    tx: mpsc::UnboundedSender<BindingOp>,
}

impl OrderedWriter {
    /// Start the writer task. Until `stop`, each write is retried until it is stored; at `stop`
    /// what is queued gets one attempt each, in order, stopping at the first failure (phones
    /// refresh their registrations anyway).
    pub fn spawn<S: BindingStore>(
        store: S,
        backoff: WriteBackoff,
        stop: CancellationToken,
    ) -> (OrderedWriter, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, rx, backoff, stop));
        (OrderedWriter { tx }, task)
    }

    pub fn send(&self, op: BindingOp) {
        if self.tx.send(op).is_err() {
            tracing::debug!("registration change after the writer stopped; not stored");
        }
    }
}

async fn run<S: BindingStore>(
    store: S,
    mut rx: mpsc::UnboundedReceiver<BindingOp>,
    backoff: WriteBackoff,
    stop: CancellationToken,
) {
    loop {
        let op = tokio::select! {
            biased;
            op = rx.recv() => match op {
                Some(op) => op,
                None => return,
            },
            _ = stop.cancelled() => break,
        };
        if !write_until_stored(&store, &op, backoff, &stop).await {
            // Stopped while this write kept failing: it goes first in the final pass.
            finish(&store, Some(op), &mut rx).await;
            return;
        }
    }
    finish(&store, None, &mut rx).await;
}

/// Retry `op` until stored (true) or `stop` (false).
async fn write_until_stored<S: BindingStore>(
    store: &S,
    op: &BindingOp,
    backoff: WriteBackoff,
    stop: &CancellationToken,
) -> bool {
    let mut wait = backoff.min;
    loop {
        match store.apply(op).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(aor = %op.aor(), error = %e, retry_in = ?wait,
                    "registration not stored; retrying before any later change");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return false,
        }
        wait = (wait * 2).min(backoff.max);
    }
}

/// At shutdown: one attempt per queued write, in order, until the first failure.
async fn finish<S: BindingStore>(
    store: &S,
    first: Option<BindingOp>,
    rx: &mut mpsc::UnboundedReceiver<BindingOp>,
) {
    rx.close();
    let mut pending: Vec<BindingOp> = first.into_iter().collect();
    while let Ok(op) = rx.try_recv() {
        pending.push(op);
    }
    let total = pending.len();
    for (done, op) in pending.iter().enumerate() {
        if let Err(e) = store.apply(op).await {
            tracing::warn!(aor = %op.aor(), error = %e, not_stored = total - done,
                "shutting down: registration changes not stored; phones re-register");
            return;
        }
    }
}

/// The registrar's sink: routing learns at once; the database through the ordered writer.
pub struct StoreRegistrations {
    pub writer: OrderedWriter,
    pub router: RouterHandle,
}

impl RegistrationSink for StoreRegistrations {
    fn changed(&self, changes: Vec<BindingChange>) {
        use crate::acd::router::Input;
        for c in changes {
            match c {
                BindingChange::Upsert(b) => {
                    super::phone_seen(&self.router, &b.aor);
                    self.writer.send(BindingOp::Upsert(to_stored(&b)));
                }
                BindingChange::Remove { aor, contact } => {
                    self.router.send(Input::AgentDisconnected {
                        agent: crate::acd::service::agent_id(&aor),
                    });
                    self.writer.send(BindingOp::Remove { aor, contact });
                }
            }
        }
    }
}

/// Share one sink between the endpoint and whoever else needs it.
pub fn sink(writer: OrderedWriter, router: RouterHandle) -> Arc<StoreRegistrations> {
    Arc::new(StoreRegistrations { writer, router })
}

fn to_stored(b: &Binding) -> store::Binding {
    store::Binding {
        aor: b.aor.clone(),
        contact: b.contact.clone(),
        instance: None,
        transport: b.source.transport.via_token().to_ascii_lowercase(),
        source_addr: b.source.addr.to_string(),
        connection: b.source.conn.map(|c| c.to_string()),
        expires_at_ms: (b.expires_at * 1000) as i64,
        call_id: b.call_id.clone(),
        cseq: i64::from(b.cseq),
        updated_ms: now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the writes it accepts; refuses the first `fail` attempts.
    #[derive(Clone, Default)]
    struct Fake {
        applied: Arc<Mutex<Vec<BindingOp>>>,
        fail: Arc<Mutex<u32>>,
        attempts: Arc<Mutex<u32>>,
    }

    impl BindingStore for Fake {
        async fn apply(&self, op: &BindingOp) -> Result<(), String> {
            *self.attempts.lock().unwrap() += 1;
            {
                let mut fail = self.fail.lock().unwrap();
                if *fail > 0 {
                    *fail -= 1;
                    return Err("database unavailable".into());
                }
            }
            // Let a later write race this one if the writer ran them concurrently.
            tokio::task::yield_now().await;
            self.applied.lock().unwrap().push(op.clone());
            Ok(())
        }
    }

    fn upsert(aor: &str, cseq: i64) -> BindingOp {
        BindingOp::Upsert(store::Binding {
            aor: aor.into(),
            contact: format!("sip:{aor}@10.0.0.1"),
            instance: None,
            transport: "udp".into(),
            source_addr: "10.0.0.1:5060".into(),
            connection: None,
            expires_at_ms: 3_600_000,
            call_id: "reg".into(),
            cseq,
            updated_ms: cseq,
        })
    }

    fn remove(aor: &str) -> BindingOp {
        BindingOp::Remove {
            aor: aor.into(),
            contact: format!("sip:{aor}@10.0.0.1"),
        }
    }

    const FAST: WriteBackoff = WriteBackoff {
        min: Duration::from_millis(1),
        max: Duration::from_millis(4),
    };

    async fn wait_for(fake: &Fake, n: usize) {
        for _ in 0..1000 {
            if fake.applied.lock().unwrap().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("only {:?} applied", fake.applied.lock().unwrap());
    }

    #[tokio::test]
    async fn a_failed_write_is_retried_before_any_later_one() {
        let fake = Fake::default();
        *fake.fail.lock().unwrap() = 3;
        let stop = CancellationToken::new();
        let (w, task) = OrderedWriter::spawn(fake.clone(), FAST, stop.clone());
        let sent = vec![
            upsert("alice", 1),
            remove("alice"),
            upsert("alice", 2),
            upsert("bob", 1),
        ];
        for op in &sent {
            w.send(op.clone());
        }
        wait_for(&fake, sent.len()).await;
        assert_eq!(
            *fake.applied.lock().unwrap(),
            sent,
            "stored in the order sent"
        );
        assert_eq!(*fake.attempts.lock().unwrap(), sent.len() as u32 + 3);
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn at_stop_what_is_queued_is_written_in_order_once() {
        let fake = Fake::default();
        *fake.fail.lock().unwrap() = u32::MAX; // the database is down...
        let stop = CancellationToken::new();
        let (w, task) = OrderedWriter::spawn(fake.clone(), FAST, stop.clone());
        w.send(upsert("alice", 1));
        w.send(upsert("alice", 2));
        tokio::time::sleep(Duration::from_millis(10)).await;
        *fake.fail.lock().unwrap() = 0; // ...and back just as the server stops.
        stop.cancel();
        task.await.unwrap();
        assert_eq!(
            *fake.applied.lock().unwrap(),
            vec![upsert("alice", 1), upsert("alice", 2)]
        );
        w.send(upsert("alice", 3)); // after the stop: dropped, no panic
    }

    #[tokio::test]
    async fn at_stop_the_first_failure_ends_the_final_pass() {
        let fake = Fake::default();
        *fake.fail.lock().unwrap() = u32::MAX;
        let stop = CancellationToken::new();
        let (w, task) = OrderedWriter::spawn(fake.clone(), FAST, stop.clone());
        w.send(upsert("alice", 1));
        w.send(remove("alice"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        stop.cancel();
        task.await.unwrap();
        assert!(
            fake.applied.lock().unwrap().is_empty(),
            "nothing stored out of order"
        );
    }
}
