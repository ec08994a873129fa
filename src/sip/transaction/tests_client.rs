//! Client transaction tests: timers A, B, D, E, F, K, M on UDP and TCP, retransmission
//! intervals, ACK for non-2xx, RFC 6026 Accepted state, transport errors.
//! Timers: T1 = 10 ms, T2 = 40 ms, T4 = 50 ms, D = 320 ms, so 64*T1 = 640 ms.

use super::test_util::*;
use super::{Action, TxError, TxKind};
use crate::sip::message::{Message, Method};

fn responses_to_tu(h: &Harness) -> Vec<u16> {
    h.actions
        .iter()
        .filter_map(|a| match a {
            Action::ResponseReceived { response, .. } => Some(response.status),
            _ => None,
        })
        .collect()
}

#[test]
fn timer_a_doubles_and_timer_b_gives_up_after_64_t1_on_udp() {
    let mut h = Harness::new();
    let tx = h.send_request(invite("z9hG4bKa", 1), udp_peer(), 0);
    assert_eq!(h.layer.kind(tx), Some(TxKind::ClientInvite));
    assert_eq!(h.sent_methods(), [Method::Invite]);
    let resent_at = h.advance(639);
    assert_eq!(resent_at, [10, 30, 70, 150, 310, 630]);
    assert!(!h.timed_out(tx));
    h.advance(640);
    assert!(h.timed_out(tx) && h.terminated(tx));
    assert_eq!(
        h.sent_methods().len(),
        7,
        "RFC 3261: 7 INVITE transmissions"
    );
    assert_eq!(h.layer.stats().retransmissions, 6);
    assert!(h.layer.is_empty());
}

#[test]
fn no_timer_a_on_tcp_but_timer_b_still_fires() {
    let mut h = Harness::new();
    let tx = h.send_request(invite("z9hG4bKa", 1), tcp_peer(), 0);
    assert_eq!(h.advance(639), Vec::<u64>::new());
    assert!(!h.timed_out(tx));
    h.advance(640);
    assert!(h.timed_out(tx));
    assert_eq!(h.sent_methods().len(), 1);
}

#[test]
fn provisional_stops_retransmissions_and_timer_b() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKa", 1);
    let tx = h.send_request(inv.clone(), udp_peer(), 0);
    h.receive(response(&inv, 180), udp_peer(), 5);
    assert_eq!(h.layer.state_name(tx), Some("Proceeding"));
    assert_eq!(h.advance(10_000), Vec::<u64>::new());
    assert!(!h.timed_out(tx));
    assert_eq!(responses_to_tu(&h), [180]);
}

#[test]
fn failure_is_acked_by_the_transaction_and_retransmits_are_reacked_until_timer_d() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKa", 4);
    let tx = h.send_request(inv.clone(), udp_peer(), 0);
    let busy = response(&inv, 486);
    h.receive(busy.clone(), udp_peer(), 5);
    assert_eq!(h.sent_methods(), [Method::Invite, Method::Ack]);
    let ack = h.sends()[1].as_request().unwrap().clone();
    assert_eq!(ack.top_via().unwrap().branch.as_deref(), Some("z9hG4bKa"));
    assert_eq!(ack.cseq().unwrap().seq, 4);
    assert_eq!(ack.to().unwrap().tag(), Some("totag1"));
    h.receive(busy, udp_peer(), 100);
    assert_eq!(h.sent_methods(), [Method::Invite, Method::Ack, Method::Ack]);
    assert_eq!(
        responses_to_tu(&h),
        [486],
        "retransmitted 486 not passed up"
    );
    h.advance(324);
    assert!(!h.terminated(tx));
    h.advance(325);
    assert!(h.terminated(tx));
    assert!(!h.timed_out(tx));
}

#[test]
fn failure_on_tcp_terminates_at_once_timer_d_is_zero() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKa", 1);
    let tx = h.send_request(inv.clone(), tcp_peer(), 0);
    h.receive(response(&inv, 603), tcp_peer(), 5);
    assert!(h.terminated(tx));
    assert_eq!(h.sent_methods(), [Method::Invite, Method::Ack]);
}

#[test]
fn accepted_state_passes_every_2xx_up_until_timer_m() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKa", 1);
    let tx = h.send_request(inv.clone(), udp_peer(), 0);
    let ok = response(&inv, 200);
    h.receive(ok.clone(), udp_peer(), 5);
    assert_eq!(h.layer.state_name(tx), Some("Accepted"));
    assert_eq!(
        h.sent_methods(),
        [Method::Invite],
        "2xx is ACKed by the TU, not here"
    );
    h.receive(ok.clone(), udp_peer(), 30);
    assert_eq!(
        responses_to_tu(&h),
        [200, 200],
        "2xx retransmission reaches the TU"
    );
    assert_eq!(
        h.advance(644),
        Vec::<u64>::new(),
        "no INVITE retransmission after 2xx"
    );
    assert!(!h.terminated(tx));
    h.advance(645);
    assert!(h.terminated(tx));
    h.receive(ok, udp_peer(), 700);
    assert_eq!(
        h.count(|a| matches!(a, Action::StrayResponse { response, .. } if response.status == 200)),
        1
    );
}

#[test]
fn timer_e_caps_at_t2_and_timer_f_gives_up_on_udp() {
    let mut h = Harness::new();
    let tx = h.send_request(request(Method::Options, "z9hG4bKo", 1), udp_peer(), 0);
    let resent_at = h.advance(639);
    assert_eq!(resent_at[..5], [10, 30, 70, 110, 150]);
    assert!(resent_at.windows(2).skip(2).all(|w| w[1] - w[0] == 40));
    assert_eq!(*resent_at.last().unwrap(), 630);
    assert!(!h.timed_out(tx));
    h.advance(640);
    assert!(h.timed_out(tx) && h.terminated(tx));
}

#[test]
fn timer_e_uses_t2_once_proceeding() {
    let cfg = super::TimerConfig {
        t2: std::time::Duration::from_millis(200),
        ..short_timers()
    };
    let mut h = Harness::with(cfg);
    let req = request(Method::Bye, "z9hG4bKo", 2);
    h.send_request(req.clone(), udp_peer(), 0);
    h.receive(response(&req, 100), udp_peer(), 1);
    // E fires at 10 (armed before the 100), then every T2 = 200 ms.
    assert_eq!(h.advance(700), [10, 210, 410, 610]);
}

#[test]
fn no_timer_e_on_tcp_timer_f_still_fires() {
    let mut h = Harness::new();
    let tx = h.send_request(request(Method::Options, "z9hG4bKo", 1), tcp_peer(), 0);
    assert_eq!(h.advance(639), Vec::<u64>::new());
    h.advance(640);
    assert!(h.timed_out(tx));
}

#[test]
fn timer_k_absorbs_response_retransmits_on_udp_zero_on_tcp() {
    let mut h = Harness::new();
    let req = request(Method::Options, "z9hG4bKo", 1);
    let tx = h.send_request(req.clone(), udp_peer(), 0);
    h.receive(response(&req, 200), udp_peer(), 5);
    h.receive(response(&req, 200), udp_peer(), 20);
    assert_eq!(responses_to_tu(&h), [200]);
    h.advance(54);
    assert!(!h.terminated(tx));
    h.advance(55);
    assert!(h.terminated(tx));

    let mut t = Harness::new();
    let tx = t.send_request(req.clone(), tcp_peer(), 0);
    t.receive(response(&req, 200), tcp_peer(), 5);
    assert!(t.terminated(tx));
}

#[test]
fn cancel_gets_its_own_transaction_under_the_invite_branch() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKa", 1);
    let itx = h.send_request(inv.clone(), udp_peer(), 0);
    h.receive(response(&inv, 180), udp_peer(), 5);
    let cancel = inv.cancel();
    let ctx = h.send_request(cancel.clone(), udp_peer(), 6);
    assert_ne!(itx, ctx);
    h.receive(response(&cancel, 200), udp_peer(), 8);
    h.receive(response(&inv, 487), udp_peer(), 9);
    let got: Vec<_> = h
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::ResponseReceived { tx, response } => Some((*tx, response.status)),
            _ => None,
        })
        .collect();
    assert_eq!(got, [(itx, 180), (ctx, 200), (itx, 487)]);
}

#[test]
fn misuse_is_refused() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKa", 1);
    let tx = h.send_request(inv.clone(), udp_peer(), 0);
    assert_eq!(
        h.layer.send_request(inv.clone(), udp_peer(), h.at(1)),
        Err(TxError::Duplicate)
    );
    assert_eq!(
        h.layer.send_response(tx, response(&inv, 200), h.at(1)),
        Err(TxError::WrongKind)
    );
    let ack = request(Method::Ack, "z9hG4bKb", 1);
    assert_eq!(
        h.layer.send_request(ack, udp_peer(), h.at(1)),
        Err(TxError::AckNotAllowed)
    );
    let mut no_via = invite("z9hG4bKc", 1);
    no_via.headers.remove("via");
    assert_eq!(
        h.layer.send_request(no_via, udp_peer(), h.at(1)),
        Err(TxError::NoBranch)
    );
}

#[test]
fn transport_error_ends_the_transaction() {
    let mut h = Harness::new();
    let tx = h.send_request(invite("z9hG4bKa", 1), tcp_peer(), 0);
    let sent_by = h.actions.iter().find_map(|a| match a {
        Action::Send { tx, msg, .. } => Some((*tx, matches!(**msg, Message::Request(_)))),
        _ => None,
    });
    assert_eq!(sent_by, Some((Some(tx), true)));
    h.layer.on_transport_error(tx);
    h.actions.extend(h.layer.drain_actions());
    assert_eq!(
        h.count(|a| matches!(a, Action::TransportError { tx: t } if *t == tx)),
        1
    );
    assert!(h.terminated(tx));
    assert_eq!(h.advance(10_000), Vec::<u64>::new());
}
