//! The HTTP CRM against a fake CRM (a small axum server on 127.0.0.1): lookups and the pop,
//! the breaker when the CRM is stopped or hangs, and the outbox across an outage.
//!
//! [`FakeCrm`] is reusable by other in-crate tests: `FakeCrm::start(FakeData::sample())`, then
//! `stop()` / `restart()` (same port), `set_hang(true)`, `posts(key)`.

use super::http::HttpError;
use super::model::*;
use super::outbox::{spawn_outbox_with, OutboxConfig};
use super::{Crm, PopRequest};
use crate::config::{CrmHttpSettings, CrmSettings};
use crate::ivr::crm::{LookupAnswer, LookupKind, TicketPriority};
use crate::store::test_support::{sqlite_store, TestStore};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake CRM knows.
#[derive(Default, Clone)]
pub(crate) struct FakeData {
    pub contacts: Vec<Contact>,
    pub tickets: Vec<Ticket>,
    pub interactions: HashMap<String, Vec<InteractionSummary>>,
}

impl FakeData {
    /// Ada (+442079460001, account ACME-1, two open tickets and a resolved one, a call
    /// yesterday) and a line shared by Bob and Cy (+442079460002).
    pub fn sample(now_ms: i64) -> FakeData {
        let contact = |id: &str, name: &str, phone: &str, account: Option<&str>| Contact {
            id: id.into(),
            name: name.into(),
            organisation: Some("Acme".into()),
            phones: vec![phone.into()],
            email: None,
            language: Some("en".into()),
            tier: 2,
            vip: id == "c-ada",
            notes: None,
            account: account.map(Into::into),
        };
        let ticket = |n: &str, st: TicketStatus, p: Priority, created: i64| Ticket {
            id: format!("id-{n}"),
            number: n.into(),
            contact_id: Some("c-ada".into()),
            subject: format!("subject {n}"),
            category: Some("billing".into()),
            status: st,
            priority: p,
            tier: 1,
            owner: None,
            sla_due_ms: None,
            created_ms: created,
            updated_ms: created,
        };
        let call = InteractionSummary {
            id: "i-old".into(),
            call_id: "call-old".into(),
            at_ms: now_ms - 86_400_000,
            queue: Some("support".into()),
            agent: Some("alice".into()),
            agent_name: None,
            disposition: Some("resolved".into()),
            disposition_label: None,
            resolution: Some("open".into()),
            wait_secs: 12.0,
            talk_secs: 90.0,
            abandoned: false,
            ticket_number: Some("T-1001".into()),
            survey_score: None,
            recording: None,
        };
        FakeData {
            contacts: vec![
                contact("c-ada", "Ada", "+442079460001", Some("ACME-1")),
                contact("c-bob", "Bob", "+442079460002", None),
                contact("c-cy", "Cy", "+442079460002", None),
            ],
            tickets: vec![
                ticket("T-1001", TicketStatus::Open, Priority::Normal, 1),
                ticket("T-1002", TicketStatus::Pending, Priority::Urgent, 2),
                ticket("T-0999", TicketStatus::Resolved, Priority::High, 0),
            ],
            interactions: HashMap::from([("c-ada".to_string(), vec![call])]),
        }
    }
}

#[derive(Default)]
pub(crate) struct FakeState {
    data: FakeData,
    /// Answer nothing (sleep for a minute) while set.
    hang: AtomicBool,
    /// Answer 503 to the first POST of each Idempotency-Key (an answer "lost" after storing).
    fail_first_post: AtomicBool,
    /// POST /interactions received, by Idempotency-Key.
    posts: Mutex<HashMap<String, usize>>,
    /// Outcomes stored, by key (stored once however often posted).
    stored: Mutex<HashMap<String, serde_json::Value>>,
    /// Authorization headers seen.
    auth: Mutex<Vec<Option<String>>>,
}

/// The fake CRM server; see the module documentation.
pub(crate) struct FakeCrm {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

type S = State<Arc<FakeState>>;

async fn gate(s: &FakeState, headers: &HeaderMap) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.auth.lock().unwrap().push(auth);
    if s.hang.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

async fn contacts(
    State(s): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    gate(&s, &headers).await;
    let found: Vec<&Contact> = if let Some(p) = q.get("phone") {
        s.data
            .contacts
            .iter()
            .filter(|c| c.phones.contains(p))
            .collect()
    } else if let Some(a) = q.get("account") {
        s.data
            .contacts
            .iter()
            .filter(|c| c.account.as_ref() == Some(a))
            .collect()
    } else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    Json(found).into_response()
}

async fn contact(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    gate(&s, &headers).await;
    match s.data.contacts.iter().find(|c| c.id == id) {
        Some(c) => Json(c).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ticket(State(s): S, headers: HeaderMap, Path(n): Path<String>) -> Response {
    gate(&s, &headers).await;
    match s.data.tickets.iter().find(|t| t.number == n) {
        Some(t) => Json(t).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn contact_tickets(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    gate(&s, &headers).await;
    let open_only = q.get("status").map(String::as_str) == Some("open");
    let v: Vec<&Ticket> = s
        .data
        .tickets
        .iter()
        .filter(|t| t.contact_id.as_deref() == Some(id.as_str()))
        .filter(|t| !open_only || t.status.is_open())
        .collect();
    Json(v).into_response()
}

async fn contact_interactions(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    gate(&s, &headers).await;
    Json(s.data.interactions.get(&id).cloned().unwrap_or_default()).into_response()
}

async fn post_interaction(State(s): S, headers: HeaderMap, body: String) -> Response {
    gate(&s, &headers).await;
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return (StatusCode::BAD_REQUEST, "Idempotency-Key missing").into_response();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let n = {
        let mut posts = s.posts.lock().unwrap();
        let n = posts.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    s.stored.lock().unwrap().entry(key).or_insert(value);
    if n == 1 && s.fail_first_post.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    StatusCode::CREATED.into_response()
}

impl FakeCrm {
    pub async fn start(data: FakeData) -> FakeCrm {
        let state = Arc::new(FakeState {
            data,
            ..FakeState::default()
        });
        FakeCrm::serve(([127, 0, 0, 1], 0).into(), state).await
    }

    async fn serve(addr: SocketAddr, state: Arc<FakeState>) -> FakeCrm {
        let app = Router::new()
            .route("/contacts", get(contacts))
            .route("/contacts/{id}", get(contact))
            .route("/contacts/{id}/tickets", get(contact_tickets))
            .route("/contacts/{id}/interactions", get(contact_interactions))
            .route("/tickets/{number}", get(ticket))
            .route("/interactions", post(post_interaction))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind fake CRM");
        let addr = listener.local_addr().expect("fake CRM address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        FakeCrm {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop listening and close every connection (in-flight requests are cut off).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // A hanging handler holds up the graceful shutdown; the listener is gone anyway.
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }

    /// Listen again on the same port, with the same data and counters.
    pub async fn restart(&mut self) {
        self.stop().await;
        let again = FakeCrm::serve(self.addr, self.state.clone()).await;
        *self = again;
    }

    pub fn set_hang(&self, on: bool) {
        self.state.hang.store(on, Ordering::SeqCst);
    }

    pub fn posts(&self, key: &str) -> usize {
        self.state
            .posts
            .lock()
            .unwrap()
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub fn post_counts(&self) -> HashMap<String, usize> {
        self.state.posts.lock().unwrap().clone()
    }
}

fn http_settings(base_url: String) -> CrmHttpSettings {
    CrmHttpSettings {
        base_url,
        timeout_ms: 500,
        retries: 1,
        breaker_failures: 3,
        breaker_cooldown_ms: 60_000,
        token_env: None,
    }
}

fn crm_for(store: &TestStore, http: CrmHttpSettings, pop_timeout_ms: u64) -> Crm {
    let settings = CrmSettings {
        provider: "http".into(),
        pop_timeout_ms,
        http: Some(http),
        ..CrmSettings::default()
    };
    Crm::new(store.store.clone(), settings, "GB")
}

fn pop_request(caller: &str) -> PopRequest {
    PopRequest {
        caller: caller.into(),
        now_ms: crate::events::now_ms(),
        ..PopRequest::default()
    }
}

#[tokio::test]
async fn http_crm_answers_pops_and_ivr_lookups() {
    let now = crate::events::now_ms();
    let fake = FakeCrm::start(FakeData::sample(now)).await;
    let ts = sqlite_store("crm_http_lookups").await;
    let var = format!("HELPLINE_TEST_CRM_TOKEN_{}", std::process::id());
    // The variable name is unique to this test (and this process).
    std::env::set_var(&var, "s3cret");
    let mut http = http_settings(format!("{}/", fake.base_url()));
    http.token_env = Some(var);
    let crm = crm_for(&ts, http, 2_000);

    // Known caller, national format: contact, open tickets urgent first, history, repeat flag.
    let pop = crm.pop(&pop_request("020 7946 0001")).await;
    assert_eq!(pop.status, PopStatus::Ok);
    assert_eq!(pop.caller, "+442079460001");
    assert_eq!(pop.contact.as_ref().map(|c| c.id.as_str()), Some("c-ada"));
    let numbers: Vec<_> = pop.tickets.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(numbers, ["T-1002", "T-1001"]);
    assert_eq!(pop.interactions.len(), 1);
    assert!(pop.repeat_caller);

    // A shared line: both contacts, the agent picks. An unknown number: not found.
    let pop = crm.pop(&pop_request("+442079460002")).await;
    assert_eq!((pop.status, pop.matches.len()), (PopStatus::Ok, 2));
    assert!(pop.contact.is_none());
    let pop = crm.pop(&pop_request("+442079469999")).await;
    assert_eq!(pop.status, PopStatus::NotFound);

    // The IVR identified the caller by ticket (on a withheld number) or by account.
    let mut req = pop_request("anonymous");
    req.ticket = Some("T-1001".into());
    let pop = crm.pop(&req).await;
    assert_eq!(pop.contact.map(|c| c.id), Some("c-ada".into()));
    let mut req = pop_request("+442079469999");
    req.account = Some("ACME-1".into());
    let pop = crm.pop(&req).await;
    assert_eq!(pop.contact.map(|c| c.id), Some("c-ada".into()));

    // IVR lookups.
    match crm.lookup(LookupKind::Caller, "+442079460001").await {
        LookupAnswer::Contact(f) => {
            assert_eq!((f.contact_id.as_str(), f.vip), ("c-ada", true));
            let t = f.open_ticket.expect("open ticket");
            assert_eq!(
                (t.id.as_str(), t.priority),
                ("T-1002", TicketPriority::Urgent)
            );
        }
        other => panic!("caller lookup: {other:?}"),
    }
    assert!(matches!(
        crm.lookup(LookupKind::Account, "ACME-1").await,
        LookupAnswer::Contact(_)
    ));
    assert_eq!(
        crm.lookup(LookupKind::Account, "NOPE").await,
        LookupAnswer::NotFound
    );
    assert!(matches!(
        crm.lookup(LookupKind::Ticket, "T-1001").await,
        LookupAnswer::Ticket(_)
    ));
    assert_eq!(
        crm.lookup(LookupKind::Ticket, "T-0999").await,
        LookupAnswer::NotFound,
        "a resolved ticket is not an open ticket"
    );
    assert_eq!(
        crm.lookup(LookupKind::Ticket, "T-4040").await,
        LookupAnswer::NotFound
    );

    let auth = fake.state.auth.lock().unwrap().clone();
    assert!(!auth.is_empty());
    assert!(auth.iter().all(|a| a.as_deref() == Some("Bearer s3cret")));
    ts.finish().await;
}

#[tokio::test]
async fn a_stopped_crm_opens_the_breaker_and_pops_say_unavailable_in_time() {
    let mut fake = FakeCrm::start(FakeData::sample(0)).await;
    let ts = sqlite_store("crm_http_stopped").await;
    let crm = crm_for(&ts, http_settings(fake.base_url()), 300);
    let http = crm.http().expect("http provider").clone();
    assert_eq!(
        crm.pop(&pop_request("+442079460001")).await.status,
        PopStatus::Ok
    );
    fake.stop().await;

    // Each failing pop (1 request + 1 retry) counts; three failures open the breaker.
    for _ in 0..3 {
        let t = Instant::now();
        let pop = crm.pop(&pop_request("+442079460001")).await;
        assert_eq!(pop.status, PopStatus::Unavailable);
        assert!(
            t.elapsed() < Duration::from_millis(450),
            "{:?}",
            t.elapsed()
        );
    }
    assert_eq!(http.breaker_state(), super::breaker::BreakerState::Open);
    let t = Instant::now();
    let err = http.contacts_by_phone("+442079460001").await.unwrap_err();
    assert!(matches!(err, HttpError::BreakerOpen(_)), "{err}");
    assert!(t.elapsed() < Duration::from_millis(100), "fails fast");
    let t = Instant::now();
    assert_eq!(
        crm.pop(&pop_request("+442079460001")).await.status,
        PopStatus::Unavailable
    );
    assert_eq!(
        crm.lookup(LookupKind::Caller, "+442079460001").await,
        LookupAnswer::Unavailable
    );
    assert!(
        t.elapsed() < Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    ts.finish().await;
}

#[tokio::test]
async fn a_hanging_crm_opens_the_breaker_through_the_pop_deadline() {
    let fake = FakeCrm::start(FakeData::sample(0)).await;
    let ts = sqlite_store("crm_http_hanging").await;
    let mut settings = http_settings(fake.base_url());
    settings.timeout_ms = 5_000; // longer than the pop deadline: the pop gives up first
    let crm = crm_for(&ts, settings, 400);
    fake.set_hang(true);
    for _ in 0..3 {
        let t = Instant::now();
        let pop = crm.pop(&pop_request("+442079460001")).await;
        assert_eq!(pop.status, PopStatus::Unavailable);
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(390) && took < Duration::from_millis(700),
            "{took:?}"
        );
    }
    // Three abandoned requests opened the breaker: the next pop does not wait at all.
    let t = Instant::now();
    assert_eq!(
        crm.pop(&pop_request("+442079460001")).await.status,
        PopStatus::Unavailable
    );
    assert!(
        t.elapsed() < Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    ts.finish().await;
}

#[tokio::test]
async fn a_trial_after_the_cooldown_closes_the_breaker_when_the_crm_is_back() {
    let mut fake = FakeCrm::start(FakeData::sample(0)).await;
    let ts = sqlite_store("crm_http_recover").await;
    let mut settings = http_settings(fake.base_url());
    settings.breaker_failures = 1;
    settings.breaker_cooldown_ms = 200;
    settings.retries = 0;
    let crm = crm_for(&ts, settings, 1_000);
    fake.stop().await;
    assert_eq!(
        crm.lookup(LookupKind::Caller, "+442079460001").await,
        LookupAnswer::Unavailable
    );
    fake.restart().await;
    assert_eq!(
        crm.lookup(LookupKind::Caller, "+442079460001").await,
        LookupAnswer::Unavailable,
        "still open: fails fast although the CRM is back"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(matches!(
        crm.lookup(LookupKind::Caller, "+442079460001").await,
        LookupAnswer::Contact(_)
    ));
    assert_eq!(
        crm.http().map(|h| h.breaker_state()),
        Some(super::breaker::BreakerState::Closed)
    );
    ts.finish().await;
}

fn interaction(n: usize) -> Interaction {
    Interaction {
        id: uuid::Uuid::now_v7().to_string(),
        call_id: format!("call-{n}-{}", uuid::Uuid::new_v4()),
        contact_id: Some("c-ada".into()),
        caller: Some("+442079460001".into()),
        queue: Some("support".into()),
        agent: Some("alice".into()),
        arrived_ms: 1_000,
        wait_ms: 5_000,
        talk_ms: 60_000,
        ticket_number: Some("T-1001".into()),
        ..Interaction::default()
    }
}

fn wrap() -> WrapUp {
    WrapUp {
        disposition: "resolved".into(),
        notes: "sorted".into(),
        ticket: Some(TicketChoice::Link("T-1001".into())),
        resolution: Resolution::Resolved,
    }
}

fn fast_outbox() -> OutboxConfig {
    OutboxConfig {
        first_retry: Duration::from_millis(50),
        max_retry: Duration::from_millis(400),
        poll: Duration::from_millis(50),
        batch: 2,
    }
}

async fn wait_until_delivered(crm: &Crm, within: Duration) {
    let t = Instant::now();
    loop {
        let pending = crm.store().outbox_pending().await.expect("outbox_pending");
        if pending == 0 {
            return;
        }
        assert!(t.elapsed() < within, "{pending} outcomes still pending");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn outcomes_wait_in_the_outbox_while_the_crm_is_down_and_arrive_once() {
    let mut fake = FakeCrm::start(FakeData::sample(0)).await;
    let ts = sqlite_store("crm_http_outbox").await;
    let mut settings = http_settings(fake.base_url());
    settings.breaker_failures = 2;
    settings.breaker_cooldown_ms = 300;
    let crm = crm_for(&ts, settings, 300);
    fake.stop().await;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = spawn_outbox_with(crm.clone(), fast_outbox(), async {
        let _ = stopped.await;
    });
    let mut ids = Vec::new();
    for n in 0..3 {
        let saved = crm
            .save(&interaction(n), Some(&wrap()), crate::events::now_ms())
            .await
            .expect("save");
        ids.push(saved.interaction_id);
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(crm.store().outbox_pending().await.unwrap(), 3);

    fake.restart().await;
    wait_until_delivered(&crm, Duration::from_secs(10)).await;
    // One more after recovery goes out at once (the save wakes the task).
    let t = Instant::now();
    let saved = crm
        .save(&interaction(9), None, crate::events::now_ms())
        .await
        .unwrap();
    ids.push(saved.interaction_id);
    wait_until_delivered(&crm, Duration::from_secs(2)).await;
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );

    // Give a duplicate a chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = fake.post_counts();
    assert_eq!(counts.len(), 4, "{counts:?}");
    for id in &ids {
        assert_eq!(fake.posts(id), 1, "{id} posted {} times", fake.posts(id));
        let stored = fake.state.stored.lock().unwrap().get(id).cloned().unwrap();
        assert_eq!(stored["interaction_id"], serde_json::json!(id));
        assert_eq!(stored["interaction"]["agent"], "alice");
    }
    let first = fake.state.stored.lock().unwrap()[&ids[0]].clone();
    assert_eq!(first["wrapup"]["disposition"], "resolved");
    assert_eq!(first["wrapup"]["ticket"]["link"], "T-1001");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("outbox task stops on shutdown")
        .expect("outbox task did not panic");
    ts.finish().await;
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_idempotency_key() {
    let fake = FakeCrm::start(FakeData::sample(0)).await;
    fake.state.fail_first_post.store(true, Ordering::SeqCst);
    let ts = sqlite_store("crm_http_outbox_retry").await;
    let crm = crm_for(&ts, http_settings(fake.base_url()), 300);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = spawn_outbox_with(crm.clone(), fast_outbox(), async {
        let _ = stopped.await;
    });
    let saved = crm
        .save(&interaction(1), Some(&wrap()), crate::events::now_ms())
        .await
        .unwrap();
    wait_until_delivered(&crm, Duration::from_secs(5)).await;
    assert_eq!(fake.post_counts().len(), 1);
    assert_eq!(fake.posts(&saved.interaction_id), 2, "503, then accepted");
    assert_eq!(fake.state.stored.lock().unwrap().len(), 1);
    let _ = stop.send(());
    let _ = task.await;
    ts.finish().await;
}

#[tokio::test]
async fn the_builtin_provider_queues_nothing_and_needs_no_outbox_task() {
    let ts = sqlite_store("crm_builtin_no_outbox").await;
    let crm = Crm::new(ts.store.clone(), CrmSettings::default(), "GB");
    assert!(crm.http().is_none());
    crm.save(&interaction(1), None, 1).await.unwrap();
    assert_eq!(crm.store().outbox_pending().await.unwrap(), 0);
    let task = spawn_outbox_with(crm, fast_outbox(), std::future::pending::<()>());
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("returns at once")
        .unwrap();
    ts.finish().await;
}
