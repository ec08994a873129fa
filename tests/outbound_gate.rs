//! Issue 14, must-show 4, against the real server with a fake trunk (a UDP socket that records
//! every INVITE it gets and answers 486):
//! - an INVITE to a `[[sip.direct]]` line that forwards to a trunk gets 407 until it passes
//!   digest; wrong credentials count as INVITE authentication failures; nothing reaches the
//!   trunk meanwhile;
//! - a premium-rate number is refused by the outbound gate on the direct line (403) and in the
//!   IVR's `transfer` node (the caller hears `call_not_allowed` and is hung up), never dialled;
//! - the gate's counts survive a restart (a per-number cap of 1 still holds after `kill -9`).
//!
//! Callbacks booked from the IVR and from the queue: `tests/e2e/test_callback.py`
//! (`test_a_premium_rate_number_is_never_called_back`).

mod common;

use common::sip_caller::{count_rtp, header, sdp, status, Caller};
use common::{http_get, Server};
use helpline::sip::auth::{pick_challenge, Credentials, Secret};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A trunk that records the request line of every INVITE it gets and answers it 486.
struct FakeTrunk {
    port: u16,
    invites: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeTrunk {
    fn start() -> FakeTrunk {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind trunk");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let port = sock.local_addr().expect("addr").port();
        let invites = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, done) = (invites.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 65535];
            while !done.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !m.starts_with("INVITE ") {
                    continue;
                }
                seen.lock()
                    .expect("lock")
                    .push(m.lines().next().unwrap_or("").to_string());
                let mut busy = String::from("SIP/2.0 486 Busy Here\r\n");
                for name in ["via", "from", "call-id", "cseq"] {
                    busy.push_str(&format!("{name}: {}\r\n", header(&m, name).unwrap_or("")));
                }
                let to = header(&m, "to").unwrap_or("");
                busy.push_str(&format!("to: {to};tag=trunk\r\nContent-Length: 0\r\n\r\n"));
                let _ = sock.send_to(busy.as_bytes(), from);
            }
        });
        FakeTrunk {
            port,
            invites,
            stop,
        }
    }

    fn invites(&self) -> Vec<String> {
        self.invites.lock().expect("lock").clone()
    }
}

impl Drop for FakeTrunk {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn metric(server: &Server, line_start: &str) -> f64 {
    let text = http_get(server.http, "/metrics").expect("metrics").1;
    text.lines()
        .find(|l| l.starts_with(line_start) && l[line_start.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The Proxy-Authorization answering the 407 `challenge` for an INVITE to `number`.
fn proxy_authorization(challenge: &str, number: &str, user: &str, password: &str) -> String {
    let head = challenge.split("\r\n\r\n").next().unwrap_or("");
    let ch = pick_challenge(head.lines().filter_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case("proxy-authenticate")
            .then(|| v.trim())
    }))
    .expect("a Proxy-Authenticate challenge");
    let value = Credentials {
        username: user.into(),
        secret: Secret::Password(password.into()),
    }
    .authorize(
        &ch,
        "INVITE",
        &format!("sip:{number}@helpline.test"),
        b"",
        "cnonce1",
        1,
    )
    .expect("authorize")
    .to_header_value();
    format!("Proxy-Authorization: {value}\r\n")
}

/// INVITE `number` as `user`: the first attempt must draw a 407, the answer to it is returned.
fn authenticated_invite(caller: &Caller, number: &str, user: &str, password: &str) -> String {
    let offer = sdp("127.0.0.1", 4000, "sendrecv");
    let challenge = caller.invite(number, &offer, "").expect("an answer");
    assert_eq!(status(&challenge), 407, "{challenge}");
    let auth = proxy_authorization(&challenge, number, user, password);
    caller.invite(number, &offer, &auth).expect("an answer")
}

fn trunk_config(trunk: &FakeTrunk) -> String {
    format!(
        "[[sip.trunks]]\nname = \"pstn\"\nproxy = \"127.0.0.1:{port}\"\ndomain = \"127.0.0.1\"\n\
         [[sip.direct]]\nnumber = \"+442079460111\"\ntrunk = \"pstn\"\ndial = \"+15551230000\"\n\
         [[sip.direct]]\nnumber = \"+442079460112\"\ntrunk = \"pstn\"\ndial = \"+19005550100\"\n\
         [outbound]\nmax_per_number_per_day = 1\n",
        port = trunk.port
    )
}

#[test]
fn a_direct_line_to_a_trunk_needs_digest_and_passes_the_gate() {
    let trunk = FakeTrunk::start();
    let mut server = Server::start("gate-direct", &trunk_config(&trunk));
    let offer = sdp("127.0.0.1", 4000, "sendrecv");

    // No credentials: 407 with a challenge, and the trunk hears nothing.
    let anon = Caller::new(server.sip, "gate-anon");
    let r = anon.invite("+442079460111", &offer, "").expect("an answer");
    assert_eq!(status(&r), 407, "{r}");
    assert!(header(&r, "proxy-authenticate").is_some(), "{r}");
    // Wrong password: challenged again, counted as a failed INVITE authentication.
    let wrong = proxy_authorization(&r, "+442079460111", "agent1", "guess");
    let r = anon
        .invite("+442079460111", &offer, &wrong)
        .expect("an answer");
    assert_eq!(status(&r), 407, "{r}");
    assert_eq!(
        metric(&server, "helpline_auth_failures_total{kind=\"invite\"}"),
        1.0
    );

    // A user who passes digest, to a premium-rate number: the gate refuses (403).
    let premium = Caller::new(server.sip, "gate-premium");
    let r = authenticated_invite(&premium, "+442079460112", "agent1", "agent1-pw");
    assert_eq!(status(&r), 403, "{r}");
    assert_eq!(
        metric(
            &server,
            "helpline_outbound_refused_total{reason=\"denied_prefix\"}"
        ),
        1.0
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        trunk.invites().is_empty(),
        "no INVITE reaches the trunk: {:?}",
        trunk.invites()
    );

    // The same user to an ordinary number: the trunk gets the call (and answers busy).
    let ok = Caller::new(server.sip, "gate-ok");
    let r = authenticated_invite(&ok, "+442079460111", "agent1", "agent1-pw");
    assert_eq!(status(&r), 486, "the trunk's busy reaches the caller: {r}");
    let invites = trunk.invites();
    assert_eq!(invites.len(), 1, "{invites:?}");
    assert!(invites[0].contains("+15551230000"), "{invites:?}");

    // After kill -9 and a restart the leg still counts: one per number per day.
    std::thread::sleep(Duration::from_millis(500));
    server.kill9();
    server.restart();
    let again = Caller::new(server.sip, "gate-again");
    let r = authenticated_invite(&again, "+442079460111", "agent1", "agent1-pw");
    assert_eq!(status(&r), 403, "{r}");
    assert_eq!(
        metric(
            &server,
            "helpline_outbound_refused_total{reason=\"number_cap\"}"
        ),
        1.0
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(trunk.invites().len(), 1, "{:?}", trunk.invites());
}

#[test]
fn a_premium_rate_ivr_transfer_is_refused_spoken_and_never_dialled() {
    let trunk = FakeTrunk::start();
    let plans = std::env::temp_dir().join(format!("helpline-gate-plans-{}", std::process::id()));
    std::fs::create_dir_all(&plans).expect("dir");
    std::fs::write(
        plans.join("transfer.toml"),
        "[plan]\ndescription = \"transfer out\"\nlanguages = [\"en\"]\ndefault_language = \"en\"\n\
         [[entry]]\nnumber = \"+442079460999\"\nstart = \"out\"\n\
         [nodes.out]\nkind = \"transfer\"\nnumber = \"+449090000001\"\n",
    )
    .expect("plan");
    let extra = format!(
        "[[sip.trunks]]\nname = \"pstn\"\nproxy = \"127.0.0.1:{}\"\ndomain = \"127.0.0.1\"\n",
        trunk.port
    );
    let plans_path = plans.display().to_string();
    let server = Server::start_edited("gate-transfer", &extra, "", |cfg| {
        // The IVR may transfer to the premium number (the dialplan check needs it allowed);
        // the outbound gate must still refuse it.
        let cfg = cfg.replace(
            "transfer_allow = [\"+4420794609XX\"]",
            "transfer_allow = [\"+4420794609XX\", \"+44909XXXXXXX\"]",
        );
        let dialplans = cfg
            .lines()
            .find(|l| l.starts_with("dialplans = "))
            .unwrap_or("")
            .to_string();
        cfg.replace(&dialplans, &format!("dialplans = \"{plans_path}\""))
    });
    // The caller comes from a trusted trunk (127.0.0.2 in the test config), so it is vouched for.
    let rtp = UdpSocket::bind("127.0.0.2:0").expect("bind rtp");
    let rtp_port = rtp.local_addr().expect("addr").port();
    let caller = Caller::bind("127.0.0.2", server.sip, "gate-transfer");
    caller.call_to("+442079460999", &sdp("127.0.0.2", rtp_port, "sendrecv"));
    let heard = count_rtp(&rtp, Duration::from_secs(2));
    assert!(
        heard > 50,
        "the refusal is spoken ({heard} RTP packets in 2 s)"
    );
    assert!(
        caller.await_bye(Duration::from_secs(10)).is_some(),
        "hung up after the prompt"
    );
    assert_eq!(
        metric(
            &server,
            "helpline_outbound_refused_total{reason=\"denied_prefix\"}"
        ),
        1.0
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = server.log_text();
    assert!(
        log.contains("outbound leg refused") && log.contains("outbound_refused"),
        "refusal and end cause logged"
    );
    assert!(trunk.invites().is_empty(), "{:?}", trunk.invites());
    let _ = std::fs::remove_dir_all(&plans);
}
