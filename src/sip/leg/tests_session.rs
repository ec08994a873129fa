//! Established-dialog tests (shared UAS/UAC behaviour): BYE either direction,
//! hangup before the ACK, re-INVITE (hold) in and out, 491 glare, 500 + Retry-After for
//! overlapping INVITEs, out-of-order CSeq, 10,000 concurrent dialogs.

use bytes::Bytes;

use super::test_util::*;
use super::{EndCause, EndedBy, LegEvent, LegId};
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Request};

const HOLD: &[u8] = b"v=0\r\no=- 1 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";

/// An answered and ACKed incoming call; returns the caller's dialog.
fn confirmed(h: &mut H, branch: &str, call_id: &str) -> (LegId, Dialog) {
    let mut inv = caller_invite(branch);
    inv.headers.set("call-id", call_id);
    h.receive(inv.clone(), 0);
    let leg = *h.incoming().last().unwrap();
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(0))
        .unwrap();
    h.drain();
    let ok = h.sent_responses(200).last().unwrap().clone();
    let d = caller_dialog(&inv, &ok);
    h.receive(d.ack_for_2xx(1, &phone_via(&format!("{branch}ack"))), 1);
    (leg, d)
}

fn reinvite(d: &mut Dialog, branch: &str) -> Request {
    let mut re = d.new_request(Method::Invite, &phone_via(branch));
    re.set_body("application/sdp", Bytes::from_static(HOLD));
    re
}

#[test]
fn bye_from_the_caller_gets_200_and_ends_the_call() {
    let mut h = H::new();
    let (leg, mut d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    h.receive(d.new_request(Method::Bye, &phone_via("z9hG4bKbye")), 10);
    assert!(h.sent_statuses().contains(&(200, "BYE".into())));
    assert_eq!(
        h.events(leg).last(),
        Some(&LegEvent::Ended {
            by: EndedBy::Remote,
            cause: EndCause::Bye
        })
    );
    h.advance(2000);
    assert!(h.freed(leg) && h.legs.is_empty());
}

#[test]
fn our_hangup_sends_bye_in_the_dialog() {
    let mut h = H::new();
    let (leg, d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    h.legs.hangup(leg, h.at(10)).unwrap();
    h.drain();
    let bye = h.sent_requests(Method::Bye).remove(0);
    assert_eq!(bye.uri, d.local_contact.uri, "to the caller's Contact");
    assert_eq!(bye.to().unwrap().tag(), Some(d.id.local_tag.as_str()));
    assert_eq!(bye.from().unwrap().tag(), Some(d.id.remote_tag.as_str()));
    assert_eq!(bye.cseq().unwrap().seq, 1);
    assert_eq!(
        h.events(leg).last(),
        Some(&LegEvent::Ended {
            by: EndedBy::Local,
            cause: EndCause::Bye
        })
    );
    h.receive(answer_to(&bye, 200), 12);
    h.advance(2000);
    assert!(h.freed(leg));
}

#[test]
fn hangup_before_the_ack_waits_for_it_then_sends_bye() {
    let mut h = H::new();
    let inv = caller_invite("z9hG4bKs1");
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(0))
        .unwrap();
    h.legs.hangup(leg, h.at(1)).unwrap();
    h.drain();
    assert!(
        h.sent_requests(Method::Bye).is_empty(),
        "§15: wait for the ACK"
    );
    let ok = h.sent_responses(200).remove(0);
    h.receive(
        caller_dialog(&inv, &ok).ack_for_2xx(1, &phone_via("z9hG4bKa")),
        5,
    );
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
}

#[test]
fn bye_from_the_caller_while_our_bye_waits_for_the_ack_frees_the_leg() {
    let mut h = H::new();
    let inv = caller_invite("z9hG4bKs1");
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(0))
        .unwrap();
    h.legs.hangup(leg, h.at(1)).unwrap();
    h.drain();
    let ok = h.sent_responses(200).remove(0);
    let mut d = caller_dialog(&inv, &ok);
    h.receive(d.new_request(Method::Bye, &phone_via("z9hG4bKbye")), 2);
    assert!(h.sent_statuses().contains(&(200, "BYE".into())));
    h.receive(d.new_request(Method::Info, &phone_via("z9hG4bKinfo")), 3);
    assert!(h.sent_statuses().contains(&(481, "INFO".into())));
    h.advance(5000);
    assert!(
        h.sent_requests(Method::Bye).is_empty(),
        "no BYE for an ended call"
    );
    assert!(h.freed(leg));
}

#[test]
fn remote_reinvite_reaches_the_call_layer_and_is_answered() {
    let mut h = H::new();
    let (leg, mut d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    let re = reinvite(&mut d, "z9hG4bKre1");
    h.receive(re.clone(), 10);
    assert_eq!(
        h.events(leg).last(),
        Some(&LegEvent::ReInvite {
            sdp: Some(Bytes::from_static(HOLD))
        })
    );
    h.legs
        .answer_reinvite(leg, Bytes::from_static(ANSWER), h.at(11))
        .unwrap();
    h.drain();
    let ok = h.sent_responses(200).last().unwrap().clone();
    assert_eq!(ok.cseq().unwrap().seq, 2);
    assert_eq!(&ok.body[..], ANSWER);
    h.receive(d.ack_for_2xx(2, &phone_via("z9hG4bKre1ack")), 12);
    h.advance(1000);
    assert_eq!(
        h.sent_responses(200).len(),
        2,
        "re-INVITE 2xx stopped by its ACK"
    );
    assert!(!h
        .events(leg)
        .iter()
        .any(|e| matches!(e, LegEvent::Ended { .. })));
}

#[test]
fn reinvite_glare_gets_491() {
    let mut h = H::new();
    let (leg, mut d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    h.legs
        .reinvite(leg, Bytes::from_static(HOLD), h.at(10))
        .unwrap();
    h.drain();
    assert_eq!(h.sent_requests(Method::Invite).len(), 1);
    h.receive(reinvite(&mut d, "z9hG4bKre1"), 11);
    assert!(h.sent_statuses().contains(&(491, "INVITE".into())));
}

#[test]
fn overlapping_remote_reinvite_gets_500_with_retry_after() {
    let mut h = H::new();
    let (_leg, mut d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    h.receive(reinvite(&mut d, "z9hG4bKre1"), 10);
    h.receive(reinvite(&mut d, "z9hG4bKre2"), 11);
    let busy = h.sent_responses(500).remove(0);
    assert_eq!(busy.cseq().unwrap().seq, 3);
    let secs: u32 = busy.headers.get("retry-after").unwrap().parse().unwrap();
    assert!(secs <= 10);
}

#[test]
fn lower_cseq_in_dialog_gets_500() {
    let mut h = H::new();
    let (leg, mut d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    let mut info = d.new_request(Method::Info, &phone_via("z9hG4bKi1"));
    h.receive(info.clone(), 10);
    assert!(matches!(
        h.events(leg).last(),
        Some(LegEvent::Request { .. })
    ));
    info.headers.set("cseq", "1 INFO");
    info.headers.set("via", phone_via("z9hG4bKi2").to_string());
    h.receive(info, 11);
    assert_eq!(h.sent_responses(500).len(), 1);
}

#[test]
fn our_reinvite_is_acked_and_reported() {
    let mut h = H::new();
    let (leg, mut d) = confirmed(&mut h, "z9hG4bKs1", "c1");
    h.legs
        .reinvite(leg, Bytes::from_static(HOLD), h.at(10))
        .unwrap();
    h.drain();
    let re = h.sent_requests(Method::Invite).remove(0);
    assert_eq!(re.cseq().unwrap().seq, 1);
    assert!(d.check_request(&re).is_ok());
    let mut ok = answer_to(&re, 200);
    ok.set_body("application/sdp", Bytes::from_static(OFFER));
    h.receive(ok.clone(), 12);
    let ack = h.sent_requests(Method::Ack).remove(0);
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(
        h.events(leg).last(),
        Some(&LegEvent::ReInviteDone {
            status: 200,
            sdp: Some(Bytes::from_static(OFFER))
        })
    );
    h.receive(ok, 20);
    assert_eq!(
        h.sent_requests(Method::Ack).len(),
        2,
        "2xx retransmission re-ACKed"
    );
}

#[test]
fn ten_thousand_concurrent_dialogs_are_held_and_torn_down() {
    const N: usize = 10_000;
    let mut h = H::new();
    let started = std::time::Instant::now();
    let mut dialogs = Vec::with_capacity(N);
    for i in 0..N {
        let mut inv = caller_invite(&format!("z9hG4bKload{i}"));
        inv.headers.set("call-id", format!("load-{i}"));
        h.legs.on_message(inv.clone().into(), phone(), h.at(0));
        let leg = match h.legs.drain_outputs().find_map(|o| match o {
            super::Output::IncomingCall { leg, .. } => Some(leg),
            _ => None,
        }) {
            Some(leg) => leg,
            None => panic!("no IncomingCall for call {i}"),
        };
        h.legs
            .answer(leg, Bytes::from_static(ANSWER), h.at(0))
            .unwrap();
        let ok = h
            .legs
            .drain_outputs()
            .find_map(|o| match o {
                super::Output::Send { msg, .. } => msg.as_response().cloned(),
                _ => None,
            })
            .unwrap();
        let d = caller_dialog(&inv, &ok);
        let ack = d.ack_for_2xx(1, &phone_via(&format!("z9hG4bKack{i}")));
        h.legs.on_message(ack.into(), phone(), h.at(1));
        dialogs.push((leg, d));
    }
    let setup = started.elapsed();
    h.legs.drain_outputs().for_each(drop);
    h.advance(5000);
    assert_eq!(
        h.legs.len(),
        N,
        "all calls held after their transactions ended"
    );
    assert!(h.legs.layer().is_empty());
    let t = std::time::Instant::now();
    for (i, (_, d)) in dialogs.iter_mut().enumerate() {
        let bye = d.new_request(Method::Bye, &phone_via(&format!("z9hG4bKbye{i}")));
        h.legs.on_message(bye.into(), phone(), h.at(5001));
    }
    let teardown = t.elapsed();
    h.advance(10_000);
    assert!(h.legs.is_empty(), "every leg freed after BYE");
    eprintln!("legs load: {N} calls INVITE/200/ACK in {setup:?}, {N} BYEs in {teardown:?}");
}
