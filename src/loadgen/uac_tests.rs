//! Tests of the sans-IO UAC engine, with time driven by hand.

use std::time::{Duration, Instant};

use super::msg::Party;
use super::stats::FailReason;
use super::uac::{Load, Uac, UacConfig};
use crate::sip::message::{Message, Method, Request, Response};

fn uac(hold: Option<Duration>, now: Instant) -> Uac {
    let party = Party {
        local: "127.0.0.1:40000".parse().unwrap(),
        target: "127.0.0.1:5060".parse().unwrap(),
        number: "+442079460999".into(),
        from_user: "loadgen".into(),
    };
    let cfg = UacConfig {
        party,
        hold,
        t1: Duration::from_millis(500),
        tag: "t0".into(),
        media: None,
    };
    Uac::new(cfg, now)
}

fn request(bytes: &[u8]) -> Request {
    match Message::parse(bytes).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn reply(req: &Request, status: u16) -> Vec<u8> {
    let mut r = Response::for_request(req, status, "");
    if status > 100 {
        r.set_to_tag("uas");
    }
    r.to_bytes()
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

#[test]
fn a_call_runs_invite_ack_bye_and_completes() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::ZERO), t0);
    let mut out = Vec::new();
    u.start_call(t0, &mut out);
    let invite = request(&out.pop().unwrap());
    u.on_datagram(&reply(&invite, 100), ms(t0, 1), &mut out);
    u.on_datagram(&reply(&invite, 180), ms(t0, 2), &mut out);
    assert!(out.is_empty());
    u.on_datagram(&reply(&invite, 200), ms(t0, 3), &mut out);
    let sent: Vec<Request> = out.drain(..).map(|b| request(&b)).collect();
    assert_eq!(sent.len(), 2, "ACK then BYE at once with zero hold");
    assert_eq!(sent[0].method, Method::Ack);
    assert_eq!(sent[1].method, Method::Bye);
    u.on_datagram(&reply(&sent[1], 200), ms(t0, 4), &mut out);
    let s = u.take_stats();
    assert_eq!(
        (s.attempted, s.answered, s.completed, s.failed()),
        (1, 1, 1, 0)
    );
    assert_eq!(s.latency.max(), 3000);
    assert_eq!(u.load(), Load::default());
}

#[test]
fn invite_is_retransmitted_on_timer_a_and_times_out_on_timer_b() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::ZERO), t0);
    let mut out = Vec::new();
    u.start_call(t0, &mut out);
    out.clear();
    let mut sent_at = Vec::new();
    for t in (0..=32_000).step_by(10) {
        u.on_timers(ms(t0, t), &mut out);
        if !out.is_empty() {
            assert_eq!(request(&out.pop().unwrap()).method, Method::Invite);
            sent_at.push(t);
        }
    }
    assert_eq!(sent_at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    let s = u.take_stats();
    assert_eq!(s.invite_retrans, 6);
    assert_eq!(s.failures.get(&FailReason::InviteTimeout), Some(&1));
    assert_eq!(u.load().in_flight, 0);
}

#[test]
fn a_provisional_stops_retransmission_but_not_the_answer_timeout() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::ZERO), t0);
    let mut out = Vec::new();
    u.start_call(t0, &mut out);
    let invite = request(&out.pop().unwrap());
    u.on_datagram(&reply(&invite, 180), ms(t0, 100), &mut out);
    u.on_timers(ms(t0, 31_999), &mut out);
    assert!(out.is_empty());
    u.on_timers(ms(t0, 32_000), &mut out);
    let s = u.take_stats();
    assert_eq!(s.invite_retrans, 0);
    assert_eq!(s.failures.get(&FailReason::AnswerTimeout), Some(&1));
}

#[test]
fn a_rejection_is_acked_on_the_invite_branch_and_counted_by_status() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::ZERO), t0);
    let mut out = Vec::new();
    u.start_call(t0, &mut out);
    let invite = request(&out.pop().unwrap());
    u.on_datagram(&reply(&invite, 486), ms(t0, 5), &mut out);
    let ack = request(&out.pop().unwrap());
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.top_via().unwrap().branch,
        invite.top_via().unwrap().branch
    );
    // A retransmitted 486 after the call is gone is ACKed again, statelessly.
    u.on_datagram(&reply(&invite, 486), ms(t0, 500), &mut out);
    assert_eq!(request(&out.pop().unwrap()).method, Method::Ack);
    let s = u.take_stats();
    assert_eq!(s.failures.get(&FailReason::InviteRejected(486)), Some(&1));
    assert_eq!((s.completed, s.stray), (0, 1));
}

#[test]
fn a_retransmitted_200_is_re_acked() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::from_secs(10)), t0);
    let mut out = Vec::new();
    u.start_call(t0, &mut out);
    let invite = request(&out.pop().unwrap());
    let ok = reply(&invite, 200);
    u.on_datagram(&ok, ms(t0, 5), &mut out);
    let first_ack = out.pop().unwrap();
    u.on_datagram(&ok, ms(t0, 505), &mut out);
    assert_eq!(out.pop().unwrap(), first_ack);
    assert_eq!(u.load().established, 1);
    let s = u.take_stats();
    assert_eq!(s.ok_retrans, 1);
    assert_eq!(s.latency.count(), 1, "only the first 200 is an answer");
}

#[test]
fn bye_is_retransmitted_on_timer_e_capped_at_t2_then_fails() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::from_millis(1000)), t0);
    let mut out = Vec::new();
    u.start_call(t0, &mut out);
    let invite = request(&out.pop().unwrap());
    u.on_datagram(&reply(&invite, 200), t0, &mut out);
    out.clear();
    let mut byes = Vec::new();
    for t in (0..=40_000).step_by(10) {
        u.on_timers(ms(t0, t), &mut out);
        for b in out.drain(..) {
            assert_eq!(request(&b).method, Method::Bye);
            byes.push(t);
        }
    }
    // BYE at the end of the hold (1 s), then +0.5, +1, +2, +4, +4, ...
    assert_eq!(&byes[..6], &[1000, 1500, 2500, 4500, 8500, 12500]);
    let s = u.take_stats();
    assert_eq!(s.bye_retrans as usize, byes.len() - 1);
    assert_eq!(s.failures.get(&FailReason::ByeTimeout), Some(&1));
}

#[test]
fn held_calls_wait_for_release_and_remote_bye_is_answered() {
    let t0 = Instant::now();
    let mut u = uac(None, t0);
    let mut out = Vec::new();
    let mut invites = Vec::new();
    for _ in 0..3 {
        u.start_call(t0, &mut out);
        invites.push(request(&out.pop().unwrap()));
    }
    for inv in &invites {
        u.on_datagram(&reply(inv, 200), ms(t0, 1), &mut out);
    }
    out.clear();
    u.on_timers(ms(t0, 60_000), &mut out);
    assert!(out.is_empty(), "no BYE without release");
    assert_eq!(u.load().established, 3);

    // The server hangs up the first call.
    let ack = {
        let mut again = Vec::new();
        u.on_datagram(&reply(&invites[0], 200), ms(t0, 2), &mut again);
        request(&again[0])
    };
    let mut bye = Request::new(Method::Bye, ack.uri.clone());
    for name in ["via", "from", "to", "call-id"] {
        bye.headers.push(name, ack.headers.get(name).unwrap());
    }
    bye.headers.push("cseq", "1 BYE");
    u.on_datagram(&bye.to_bytes(), ms(t0, 3), &mut out);
    match Message::parse(&out.pop().unwrap()).unwrap() {
        Message::Response(r) => assert_eq!(r.status, 200),
        Message::Request(_) => panic!("expected 200 to BYE"),
    }

    assert_eq!(u.release(10, ms(t0, 4), &mut out), 2);
    for b in std::mem::take(&mut out) {
        let bye = request(&b);
        u.on_datagram(&reply(&bye, 200), ms(t0, 5), &mut out);
    }
    let s = u.take_stats();
    assert_eq!(s.completed, 2);
    assert_eq!(s.failures.get(&FailReason::RemoteBye), Some(&1));
    assert_eq!(u.load().in_flight, 0);
}

#[test]
fn garbage_is_counted_not_fatal() {
    let t0 = Instant::now();
    let mut u = uac(Some(Duration::ZERO), t0);
    let mut out = Vec::new();
    u.on_datagram(b"\x00\xffnot sip", t0, &mut out);
    u.on_datagram(b"SIP/2.0 200 OK\r\n\r\n", t0, &mut out);
    assert!(out.is_empty());
    assert_eq!(u.take_stats().unparsable, 2);
}
