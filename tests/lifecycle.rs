//! The server's life cycle against the real binary: a `kill -9` mid-call and the restart that
//! closes what that run left open; a start whose database reads fail.
//!
//! SQLite by default; `HELPLINE_TEST_DB=postgres` with `HELPLINE_TEST_PG_URL` runs them on
//! PostgreSQL.

mod common;

use common::Server;
use helpline::store::{EventRecord, EventWriter, Owner, Store, WriterConfig, SERVER_LOST};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Read SIP messages on `sock` until one whose first line starts with `first` (e.g. `SIP/2.0 200`).
fn recv_until(sock: &UdpSocket, first: &str, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .ok()?;
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with(first) {
                return Some(text);
            }
        }
    }
    None
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Place a call to the IVR line from a raw UDP socket: INVITE, wait for 200, ACK. Returns the
/// socket (keep it open: the dialog lives on it) and the Call-ID.
fn place_call(server: SocketAddr, tag: &str) -> (UdpSocket, String) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let rtp_port = rtp.local_addr().expect("rtp addr").port();
    let call_id = format!("lost-{tag}-{}@test", std::process::id());
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    );
    let from = format!("<sip:+442079460001@127.0.0.1>;tag=f{tag}");
    let invite = format!(
        "INVITE sip:+442079460000@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-inv-{tag};rport\r\n\
         Max-Forwards: 70\r\nFrom: {from}\r\nTo: <sip:+442079460000@{server}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{me}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    sock.send_to(invite.as_bytes(), server)
        .expect("send INVITE");
    let ok = recv_until(&sock, "SIP/2.0 200", Duration::from_secs(10))
        .expect("the IVR line answers the INVITE with 200");
    let to = header(&ok, "To").expect("To in 200").to_string();
    let ack = format!(
        "ACK sip:+442079460000@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-ack-{tag};rport\r\n\
         Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(ack.as_bytes(), server).expect("send ACK");
    std::mem::forget(rtp); // the server may send RTP to it until it dies
    (sock, call_id)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn agent_state_event(id: &str, agent: &str, state: &str, call: &str, at_ms: i64) -> EventRecord {
    EventRecord {
        id: id.into(),
        call_id: None,
        kind: "agent.state_changed".into(),
        at_ms,
        payload: serde_json::json!({"kind": "agent.state_changed", "agent": agent, "state": state, "reason": null, "call": call})
            .to_string(),
    }
}

/// Store `events` as a server run of `owner` would (through its writer).
async fn write_as(
    store: &Store,
    owner: Owner,
    spill: std::path::PathBuf,
    events: Vec<EventRecord>,
) {
    let writer = EventWriter::start(
        store,
        WriterConfig {
            spill_dir: spill,
            owner: Some(owner),
            ..WriterConfig::default()
        },
    )
    .expect("writer");
    let h = writer.handle();
    for e in events {
        h.append(e);
    }
    writer
        .shutdown(Duration::from_secs(10))
        .await
        .expect("flushed");
}

#[test]
fn after_kill_9_the_restart_closes_the_calls_that_run_left_open_and_frees_their_agents() {
    let mut server = Server::start("lifecycle-lost", "");
    let (_caller, call_id) = place_call(server.sip, "a");
    let rt = runtime();
    let store = rt
        .block_on(Store::connect(&server.db_url))
        .expect("open the test database");

    // The call is stored as in progress, owned by this run (node 1, first incarnation).
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        if let Some(row) = rt.block_on(store.call(&call_id)).expect("read calls") {
            break row;
        }
        assert!(Instant::now() < deadline, "call {call_id} never stored");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(row.ended_ms, None);
    assert_eq!((row.node_id, row.incarnation), (Some(1), Some(1)));

    server.kill9();

    // While the server is down: an agent was talking on the lost call; node 2 (sharing this
    // database) has a call in progress with another agent.
    let now = helpline::events::now_ms();
    let node2 = rt
        .block_on(store.begin_incarnation(2, now))
        .expect("node 2 starts");
    rt.block_on(write_as(
        &store,
        node2,
        server.dir.join("node2-spill"),
        vec![
            EventRecord {
                id: "node2-arrived".into(),
                call_id: Some("node2-call".into()),
                kind: "call.arrived".into(),
                at_ms: now,
                payload: r#"{"kind":"call.arrived","caller":"+441","called":"+442"}"#.into(),
            },
            agent_state_event("node2-agent", "agent2", "on-call", "node2-call", now),
        ],
    ));
    rt.block_on(store.insert_events(&[agent_state_event(
        "lost-agent",
        "agent1",
        "on-call",
        &call_id,
        now,
    )]))
    .expect("agent on the call");

    server.restart();

    let row = rt
        .block_on(store.call(&call_id))
        .expect("read calls")
        .expect("call row");
    assert!(row.ended_ms.is_some(), "the lost call is ended: {row:?}");
    assert_eq!(row.cause.as_deref(), Some(SERVER_LOST), "{row:?}");
    let events = rt
        .block_on(store.events_for_call(&call_id))
        .expect("events");
    let ended: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == "call.ended")
        .collect();
    assert_eq!(ended.len(), 1, "one call.ended: {events:?}");
    assert!(ended[0].event.payload.contains(SERVER_LOST));
    let agent1 = rt
        .block_on(store.agent_state("agent1"))
        .expect("read agent")
        .expect("agent1 state");
    assert_ne!(agent1.state, "on-call", "agent1 is out of the lost call");

    let other = rt
        .block_on(store.call("node2-call"))
        .expect("read calls")
        .expect("node 2's call");
    assert_eq!(
        other.ended_ms, None,
        "node 2's call is untouched: {other:?}"
    );
    let agent2 = rt
        .block_on(store.agent_state("agent2"))
        .expect("read agent")
        .expect("agent2 state");
    assert_eq!(agent2.state, "on-call", "node 2's agent is untouched");

    // A call taken by the new run belongs to its second incarnation.
    let (_caller2, call2) = place_call(server.sip, "b");
    let deadline = Instant::now() + Duration::from_secs(10);
    let row2 = loop {
        if let Some(row) = rt.block_on(store.call(&call2)).expect("read calls") {
            break row;
        }
        assert!(Instant::now() < deadline, "call {call2} never stored");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((row2.node_id, row2.incarnation), (Some(1), Some(2)));
    assert!(
        server.log_text().contains(&call_id),
        "the log names the lost call"
    );
    rt.block_on(store.close());
}

#[test]
fn a_start_whose_database_reads_fail_retries_for_the_bounded_time_then_exits_naming_the_cause() {
    let mut server = Server::start(
        "lifecycle-unreadable",
        "\n[server]\nstartup_retry_secs = 2\n",
    );
    assert!(server.terminate().success(), "a clean first run");
    // The database still opens and its schema is up to date, but the stored registrations
    // cannot be read.
    let rt = runtime();
    rt.block_on(async {
        use sqlx::Executor;
        let url = &server.db_url;
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            pool.execute("DROP TABLE registrations")
                .await
                .expect("drop");
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
            pool.execute("DROP TABLE registrations")
                .await
                .expect("drop");
            pool.close().await;
        }
    });

    let started = Instant::now();
    server.respawn();
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the start gives up instead of serving");
    let took = started.elapsed();
    let log = server.log_text();
    assert!(
        !status.success(),
        "exit status is an error: {status:?}\n{log}"
    );
    assert!(
        took >= Duration::from_secs(2),
        "retried for the configured 2 s first (gave up after {took:?})\n{log}"
    );
    assert!(
        log.contains("retrying"),
        "each failed attempt is logged:\n{log}"
    );
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("registrations")
            && (last.contains("no such table") || last.contains("does not exist")),
        "the error names what could not be read and why: {last}"
    );
    assert!(
        crate::common::http_get(server.http, "/healthz").is_err(),
        "nothing is served"
    );
}
