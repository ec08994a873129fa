//! UAS leg tests: ring/answer/ACK, 2xx retransmission and ACK timeout, RFC 6026 INVITE
//! retransmission after 2xx, CANCEL → 200 + 487, reject, 481/482 routing, TCP.
//! Timers: T1 = 10 ms, T2 = 40 ms, 64*T1 = 640 ms.

use bytes::Bytes;

use super::test_util::*;
use super::{EndCause, EndedBy, LegError, LegEvent};
use crate::sip::dialog::DialogState;
use crate::sip::message::{Method, Response};
use crate::sip::transaction::Peer;

fn answered(h: &mut H, branch: &str) -> (super::LegId, crate::sip::message::Request, Response) {
    let inv = caller_invite(branch);
    h.receive(inv.clone(), 0);
    let leg = *h.incoming().last().unwrap();
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(0))
        .unwrap();
    h.drain();
    let ok = h.sent_responses(200).last().unwrap().clone();
    (leg, inv, ok)
}

#[test]
fn ring_then_answer_then_ack_confirms_the_call() {
    let mut h = H::new();
    let inv = caller_invite("z9hG4bKc1");
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs.ring(leg, None, h.at(1)).unwrap();
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(2))
        .unwrap();
    h.drain();
    let ringing = h.sent_responses(180).remove(0);
    let ok = h.sent_responses(200).remove(0);
    assert!(ringing.to_tag().is_some());
    assert_eq!(ok.to_tag(), ringing.to_tag(), "one dialog from 180 to 200");
    assert_eq!(&ok.body[..], ANSWER);
    assert_eq!(ok.headers.mime_type().as_deref(), Some("application/sdp"));
    assert!(ok.headers.contact().unwrap().is_some());
    assert!(
        h.sent_responses(100).is_empty(),
        "ringing came before the 100 timer"
    );
    let ack = caller_dialog(&inv, &ok).ack_for_2xx(1, &phone_via("z9hG4bKack1"));
    h.receive(ack, 5);
    assert_eq!(h.events(leg), [LegEvent::Confirmed { sdp: None }]);
    assert_eq!(h.legs.dialog(leg).unwrap().state, DialogState::Confirmed);
    h.advance(1000);
    assert_eq!(
        h.sent_responses(200).len(),
        1,
        "no 2xx retransmission after ACK"
    );
    assert_eq!(h.legs.len(), 1, "the call is held until BYE");
}

#[test]
fn record_route_is_copied_into_dialog_responses_and_becomes_our_route() {
    let mut h = H::new();
    let mut inv = caller_invite("z9hG4bKc1");
    inv.headers.push("record-route", "<sip:edge.example;lr>");
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs.ring(leg, None, h.at(1)).unwrap();
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(2))
        .unwrap();
    h.legs.hangup(leg, h.at(3)).unwrap();
    h.drain();
    for status in [180, 200] {
        let r = h.sent_responses(status).remove(0);
        assert_eq!(r.headers.get("record-route"), Some("<sip:edge.example;lr>"));
    }
    let ok = h.sent_responses(200).remove(0);
    h.receive(
        caller_dialog(&inv, &ok).ack_for_2xx(1, &phone_via("z9hG4bKa")),
        4,
    );
    let bye = h.sent_requests(Method::Bye).remove(0);
    assert_eq!(bye.headers.get("route"), Some("<sip:edge.example;lr>"));
}

#[test]
fn unanswered_invite_gets_100_trying_from_the_transaction() {
    let mut h = H::new();
    h.receive(caller_invite("z9hG4bKc1"), 0);
    h.advance(25);
    assert_eq!(h.sent_responses(100).len(), 1);
}

#[test]
fn two_xx_is_retransmitted_t1_doubling_to_t2_until_the_ack() {
    let mut h = H::new();
    let (leg, inv, ok) = answered(&mut h, "z9hG4bKc1");
    for (ms, count) in [
        (9, 1),
        (10, 2),
        (29, 2),
        (30, 3),
        (70, 4),
        (109, 4),
        (110, 5),
    ] {
        h.advance(ms);
        assert_eq!(h.sent_responses(200).len(), count, "at {ms} ms");
    }
    let ack = caller_dialog(&inv, &ok).ack_for_2xx(1, &phone_via("z9hG4bKack1"));
    h.receive(ack, 115);
    h.advance(2000);
    assert_eq!(h.sent_responses(200).len(), 5);
    assert!(h.sent_requests(Method::Bye).is_empty());
    assert_eq!(h.events(leg), [LegEvent::Confirmed { sdp: None }]);
}

#[test]
fn no_ack_within_64_t1_sends_bye_and_ends_the_call() {
    let mut h = H::new();
    let (leg, _inv, _ok) = answered(&mut h, "z9hG4bKc1");
    h.advance(639);
    assert!(h.sent_requests(Method::Bye).is_empty());
    h.advance(640);
    let bye = h.sent_requests(Method::Bye).remove(0);
    assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.10:5060");
    assert_eq!(
        h.events(leg),
        [LegEvent::Ended {
            by: EndedBy::Local,
            cause: EndCause::AckTimeout
        }]
    );
}

#[test]
fn invite_retransmitted_after_2xx_never_starts_a_second_call() {
    let mut h = H::new();
    let (_leg, inv, _ok) = answered(&mut h, "z9hG4bKc1");
    h.receive(inv.clone(), 3);
    h.receive(inv, 300);
    assert_eq!(h.incoming().len(), 1);
    assert_eq!(h.legs.len(), 1);
    assert_eq!(h.legs.layer().stats().absorbed, 2);
}

#[test]
fn cancel_before_answer_gets_200_and_487_and_the_leg_is_freed() {
    let mut h = H::new();
    let inv = caller_invite("z9hG4bKc1");
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs.ring(leg, None, h.at(1)).unwrap();
    h.receive(inv.cancel(), 5);
    let statuses = h.sent_statuses();
    assert!(statuses.contains(&(200, "CANCEL".into())));
    assert!(statuses.contains(&(487, "INVITE".into())));
    assert_eq!(h.events(leg), [LegEvent::Cancelled]);
    assert!(matches!(
        h.legs.answer(leg, Bytes::from_static(ANSWER), h.at(6)),
        Err(LegError::InvalidState(_))
    ));
    let terminated = h.sent_responses(487).remove(0);
    h.receive(inv.ack_for_failure(&terminated), 7);
    h.advance(2000);
    assert!(h.freed(leg));
    assert!(h.legs.is_empty() && h.legs.layer().is_empty());
}

#[test]
fn cancel_for_an_unknown_invite_gets_481() {
    let mut h = H::new();
    h.receive(caller_invite("z9hG4bKnone").cancel(), 0);
    assert_eq!(h.sent_statuses(), [(481, "CANCEL".to_string())]);
}

#[test]
fn reject_sends_the_final_response_and_the_ack_is_absorbed() {
    let mut h = H::new();
    let inv = caller_invite("z9hG4bKc1");
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs
        .reject(leg, 503, &[("Retry-After", "30")], h.at(1))
        .unwrap();
    h.drain();
    let resp = h.sent_responses(503).remove(0);
    assert_eq!(resp.headers.get("retry-after"), Some("30"));
    assert!(resp.to_tag().is_some());
    h.receive(inv.ack_for_failure(&resp), 2);
    h.advance(2000);
    assert_eq!(h.sent_responses(503).len(), 1, "ACK stopped timer G");
    assert!(h.events(leg).is_empty());
    assert!(h.freed(leg));
}

#[test]
fn requests_for_unknown_dialogs_get_481_and_merged_invites_482() {
    let mut h = H::new();
    let mut bye = crate::sip::transaction::test_util::request(Method::Bye, "z9hG4bKb", 2);
    bye.headers.set("to", "<sip:bob@192.0.2.20>;tag=unknown");
    h.receive(bye, 0);
    assert_eq!(h.sent_statuses(), [(481, "BYE".to_string())]);
    h.receive(caller_invite("z9hG4bKpath1"), 1);
    h.receive(caller_invite("z9hG4bKpath2"), 2);
    assert_eq!(h.incoming().len(), 1);
    assert!(h.sent_statuses().contains(&(482, "INVITE".to_string())));
}

#[test]
fn tcp_answer_is_not_retransmitted_but_the_ack_timeout_still_applies() {
    let mut h = H::new();
    let tcp = Peer::tcp("192.0.2.10:40000".parse().unwrap(), 3);
    h.receive_from(caller_invite("z9hG4bKc1"), tcp, 0);
    let leg = h.incoming()[0];
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(0))
        .unwrap();
    h.drain();
    h.advance(639);
    assert_eq!(h.sent_responses(200).len(), 1);
    h.advance(640);
    let bye = h.out.iter().find_map(|o| match o {
        super::Output::Send { to, msg, .. } if msg.as_request().is_some() => Some(*to),
        _ => None,
    });
    assert_eq!(bye, Some(tcp), "BYE goes back on the caller's connection");
}

#[test]
fn hangup_before_answer_rejects_with_480() {
    let mut h = H::new();
    h.receive(caller_invite("z9hG4bKc1"), 0);
    let leg = h.incoming()[0];
    h.legs.hangup(leg, h.at(1)).unwrap();
    h.drain();
    assert_eq!(h.sent_responses(480).len(), 1);
}
