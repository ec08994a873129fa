//! Server transaction tests: timers G, H, I, J, L and the 100 Trying timer on UDP and
//! TCP, re-answering retransmitted requests, RFC 6026 (INVITE retransmitted after 2xx
//! is absorbed, ACK for 2xx passed up), ACK for non-2xx absorbed, CANCEL matching,
//! RFC 2543 matching, Via stamping and malformed requests.
//! Timers: T1 = 10 ms, T2 = 40 ms, T4 = 50 ms, so 64*T1 = 640 ms.

use super::test_util::*;
use super::{Action, TxError, TxKind};
use crate::sip::message::Method;

fn acks_to_tu(h: &Harness) -> Vec<Option<super::TxId>> {
    h.actions
        .iter()
        .filter_map(|a| match a {
            Action::AckReceived { tx, .. } => Some(*tx),
            _ => None,
        })
        .collect()
}

#[test]
fn invite_reaches_the_tu_once_and_retransmissions_get_the_last_provisional() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    h.receive(inv.clone(), udp_peer(), 2);
    assert_eq!(h.received_requests().len(), 1);
    assert_eq!(
        h.sent_statuses(),
        [100],
        "a retransmission gets 100 Trying at once"
    );
    let tx = h.received_requests()[0].0;
    assert_eq!(h.layer.kind(tx), Some(TxKind::ServerInvite));
    h.respond(tx, response(&inv, 180), 5);
    h.receive(inv.clone(), udp_peer(), 8);
    assert_eq!(h.sent_statuses(), [100, 180, 180]);
    assert_eq!(h.received_requests().len(), 1);
    h.advance(100);
    assert_eq!(h.sent_statuses(), [100, 180, 180], "100 timer was disarmed");
}

#[test]
fn trying_is_sent_after_200ms_equivalent_unless_the_tu_answers_first() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    h.advance(19);
    assert!(h.sent_statuses().is_empty());
    h.advance(20);
    assert_eq!(h.sent_statuses(), [100]);

    let mut quick = Harness::new();
    quick.receive(inv, udp_peer(), 0);
    let tx = quick.received_requests()[0].0;
    let ringing = response(quick.received_requests()[0].1, 180);
    quick.respond(tx, ringing, 5);
    quick.advance(100);
    assert_eq!(quick.sent_statuses(), [180], "no 100 once the TU responded");
}

#[test]
fn zero_trying_delay_sends_100_immediately() {
    let cfg = super::TimerConfig {
        trying_delay: std::time::Duration::ZERO,
        ..short_timers()
    };
    let mut h = Harness::with(cfg);
    h.receive(invite("z9hG4bKs", 1), udp_peer(), 0);
    assert_eq!(h.sent_statuses(), [100]);
}

#[test]
fn timer_g_retransmits_final_response_until_timer_h_on_udp() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    let tx = h.received_requests()[0].0;
    h.respond(tx, response(&inv, 180), 1);
    h.respond(tx, response(&inv, 486), 1);
    let resent_at = h.advance(640);
    assert_eq!(resent_at[..5], [11, 31, 71, 111, 151]);
    assert!(resent_at.windows(2).skip(2).all(|w| w[1] - w[0] == 40));
    assert!(!h.timed_out(tx));
    h.advance(641);
    assert!(h.timed_out(tx) && h.terminated(tx));
    assert!(h.sent_statuses()[1..].iter().all(|s| *s == 486));
}

#[test]
fn final_before_any_provisional_is_not_retransmitted_but_reanswered() {
    // The client got nothing yet, so it retransmits the INVITE; each retransmission gets the
    // final again. Timer G stays off: a forged source draws one packet per request.
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    let tx = h.received_requests()[0].0;
    h.respond(tx, response(&inv, 404), 1);
    assert_eq!(h.advance(300), Vec::<u64>::new(), "no timer G");
    h.receive(inv.clone(), udp_peer(), 301);
    assert_eq!(
        h.sent_statuses(),
        [404, 404],
        "a retransmission is re-answered"
    );
    assert_eq!(h.received_requests().len(), 1);
    h.advance(641);
    assert!(h.timed_out(tx) && h.terminated(tx), "timer H still ends it");
    assert_eq!(h.sent_statuses(), [404, 404]);
}

#[test]
fn no_timer_g_on_tcp_but_timer_h_still_fires() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), tcp_peer(), 0);
    let tx = h.received_requests()[0].0;
    h.respond(tx, response(&inv, 486), 1);
    assert_eq!(h.advance(640), Vec::<u64>::new());
    h.advance(641);
    assert!(h.timed_out(tx));
    assert_eq!(h.sent_statuses(), [486]);
}

#[test]
fn ack_for_non_2xx_is_absorbed_and_timer_i_ends_confirmed() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    let tx = h.received_requests()[0].0;
    let busy = response(&inv, 486);
    h.respond(tx, response(&inv, 180), 1);
    h.respond(tx, busy.clone(), 1);
    assert_eq!(h.advance(19), [11], "G retransmits before the ACK");
    let ack = inv.ack_for_failure(&busy);
    h.receive(ack.clone(), udp_peer(), 20);
    assert_eq!(h.layer.state_name(tx), Some("Confirmed"));
    h.receive(ack, udp_peer(), 30);
    assert!(
        acks_to_tu(&h).is_empty(),
        "non-2xx ACK never reaches the TU"
    );
    assert_eq!(h.advance(69), Vec::<u64>::new(), "G stopped by the ACK");
    assert!(!h.terminated(tx));
    h.advance(70);
    assert!(h.terminated(tx) && !h.timed_out(tx));
    assert_eq!(
        h.sent_statuses(),
        [180, 486, 486],
        "one G retransmit at 11 before the ACK"
    );
}

#[test]
fn ack_on_tcp_terminates_at_once_timer_i_is_zero() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), tcp_peer(), 0);
    let tx = h.received_requests()[0].0;
    let busy = response(&inv, 404);
    h.respond(tx, busy.clone(), 1);
    h.receive(inv.ack_for_failure(&busy), tcp_peer(), 2);
    assert!(h.terminated(tx));
}

#[test]
fn rfc6026_invite_retransmitted_after_2xx_is_absorbed_and_2xx_ack_passes_up() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    let tx = h.received_requests()[0].0;
    let ok = response(&inv, 200);
    h.respond(tx, ok.clone(), 1);
    assert_eq!(h.layer.state_name(tx), Some("Accepted"));
    // The TU's own 2xx retransmission passes through while Accepted.
    h.respond(tx, ok, 11);
    assert_eq!(h.sent_statuses(), [200, 200]);
    h.receive(inv.clone(), udp_peer(), 30);
    h.receive(inv.clone(), udp_peer(), 300);
    assert_eq!(h.received_requests().len(), 1, "never a second call");
    assert_eq!(
        h.sent_statuses(),
        [200, 200],
        "the transaction does not resend 2xx"
    );
    // ACK for 2xx: new branch → no transaction; same branch → matched in Accepted.
    let mut ack = super::test_util::request(Method::Ack, "z9hG4bKack", 1);
    ack.headers.set("to", "<sip:bob@192.0.2.20>;tag=totag1");
    h.receive(ack.clone(), udp_peer(), 40);
    let mut same_branch = ack;
    same_branch
        .headers
        .set("via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKs;rport");
    h.receive(same_branch, udp_peer(), 41);
    assert_eq!(acks_to_tu(&h), [None, Some(tx)]);
    h.advance(640);
    assert!(!h.terminated(tx));
    h.advance(641);
    assert!(h.terminated(tx) && !h.timed_out(tx));
}

#[test]
fn non_invite_retransmissions_absorbed_then_reanswered_until_timer_j() {
    let mut h = Harness::new();
    let req = request(Method::Options, "z9hG4bKn", 1);
    h.receive(req.clone(), udp_peer(), 0);
    h.receive(req.clone(), udp_peer(), 5);
    assert!(h.sent_statuses().is_empty(), "Trying: absorbed silently");
    let tx = h.received_requests()[0].0;
    h.respond(tx, response(&req, 200), 10);
    h.receive(req.clone(), udp_peer(), 100);
    assert_eq!(h.sent_statuses(), [200, 200]);
    assert_eq!(h.received_requests().len(), 1);
    assert_eq!(
        h.layer.send_response(tx, response(&req, 500), h.at(101)),
        Err(TxError::InvalidState)
    );
    h.advance(649);
    assert!(!h.terminated(tx));
    h.advance(650);
    assert!(h.terminated(tx));
}

#[test]
fn non_invite_on_tcp_ends_with_the_final_response_timer_j_is_zero() {
    let mut h = Harness::new();
    let req = request(Method::Options, "z9hG4bKn", 1);
    h.receive(req.clone(), tcp_peer(), 0);
    let tx = h.received_requests()[0].0;
    h.respond(tx, response(&req, 200), 1);
    assert!(h.terminated(tx));
}

#[test]
fn cancel_is_its_own_transaction_and_finds_the_invite() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKs", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    let cancel = inv.cancel();
    h.receive(cancel.clone(), udp_peer(), 5);
    let got = h.received_requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1.method, Method::Cancel);
    assert_ne!(got[0].0, got[1].0);
    assert_eq!(h.layer.invite_for_cancel(got[1].1), Some(got[0].0));
    let other = invite("z9hG4bKother", 1).cancel();
    assert_eq!(h.layer.invite_for_cancel(&other), None);
}

#[test]
fn rfc2543_requests_match_without_magic_cookie() {
    let mut h = Harness::new();
    let inv = invite("old2543", 1);
    h.receive(inv.clone(), udp_peer(), 0);
    h.receive(inv.clone(), udp_peer(), 1);
    assert_eq!(h.received_requests().len(), 1);
    let tx = h.received_requests()[0].0;
    let busy = response(&inv, 486);
    h.respond(tx, busy.clone(), 2);
    let mut foreign = inv.ack_for_failure(&busy);
    foreign
        .headers
        .set("to", "<sip:bob@192.0.2.20>;tag=nottheirs");
    h.receive(foreign, udp_peer(), 3);
    assert_eq!(
        acks_to_tu(&h),
        [None],
        "ACK with another To tag does not match"
    );
    h.receive(inv.ack_for_failure(&busy), udp_peer(), 4);
    assert_eq!(h.layer.state_name(tx), Some("Confirmed"));
}

#[test]
fn received_and_rport_are_stamped_and_responses_follow_them() {
    let mut h = Harness::new();
    let from = super::Peer::udp("203.0.113.5:33333".parse().unwrap());
    let req = request(Method::Options, "z9hG4bKn", 1);
    h.receive(req, from, 0);
    let (tx, got) = h.received_requests()[0];
    let via = got.top_via().unwrap();
    assert_eq!(via.received.as_deref(), Some("203.0.113.5"));
    assert_eq!(via.rport, Some(Some(33333)));
    let resp = response(got, 200);
    h.respond(tx, resp, 1);
    let to = h.actions.iter().find_map(|a| match a {
        Action::Send { to, .. } => Some(*to),
        _ => None,
    });
    assert_eq!(to, Some(from));
}

#[test]
fn malformed_requests_get_a_stateless_400_and_never_reach_the_tu() {
    let mut h = Harness::new();
    let mut no_cseq = request(Method::Options, "z9hG4bKn", 1);
    no_cseq.headers.remove("cseq");
    h.receive(no_cseq, udp_peer(), 0);
    let mut wrong_method = request(Method::Options, "z9hG4bKm", 1);
    wrong_method.headers.set("cseq", "1 INVITE");
    h.receive(wrong_method, udp_peer(), 0);
    let mut no_via = request(Method::Options, "z9hG4bKv", 1);
    no_via.headers.remove("via");
    h.receive(no_via, udp_peer(), 0);
    assert_eq!(h.sent_statuses(), [400, 400]);
    assert!(h.received_requests().is_empty());
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.stats().bad_requests, 3);
}
