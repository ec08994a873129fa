//! UAC leg tests: INVITE → 180 → 200 → ACK (transaction-less, re-ACKed on
//! retransmission), failures ACKed by the transaction, 407 → re-INVITE with
//! credentials and CSeq + 1, CANCEL after 180 (and deferred before any provisional),
//! CANCEL/200 race, timeouts, forked 2xx, BYE from the callee.
//! Timers: T1 = 10 ms, 64*T1 = 640 ms.

use bytes::Bytes;

use super::test_util::*;
use super::{EndCause, EndedBy, LegEvent};
use crate::sip::message::{Method, Response};

fn invite_sent(h: &H) -> crate::sip::message::Request {
    h.sent_requests(Method::Invite).last().unwrap().clone()
}

#[test]
fn call_rings_is_answered_and_acked_outside_the_transaction() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    assert_eq!(inv.uri.to_string(), "sip:agent7@192.0.2.10:5060");
    assert!(inv.from().unwrap().tag().is_some());
    assert_eq!(inv.cseq().unwrap().seq, 1);
    assert_eq!(&inv.body[..], OFFER);
    assert!(inv.headers.contact().unwrap().is_some());
    h.receive(answer_to(&inv, 180), 5);
    let mut ok = answer_to(&inv, 200);
    ok.headers.set("contact", "<sip:agent7@192.0.2.99:5070>");
    ok.set_body("application/sdp", Bytes::from_static(ANSWER));
    h.receive(ok.clone(), 10);
    assert_eq!(
        h.events(leg),
        [
            LegEvent::Ringing {
                status: 180,
                sdp: None
            },
            LegEvent::Answered {
                sdp: Some(Bytes::from_static(ANSWER))
            }
        ]
    );
    let ack = h.sent_requests(Method::Ack).remove(0);
    assert_eq!(
        ack.uri.to_string(),
        "sip:agent7@192.0.2.99:5070",
        "ACK to the 2xx Contact"
    );
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.to().unwrap().tag(), Some("callee1"));
    assert_ne!(
        ack.top_via().unwrap().branch,
        inv.top_via().unwrap().branch,
        "ACK for 2xx is a new transaction"
    );
    h.receive(ok.clone(), 20);
    h.advance(700);
    h.receive(ok, 800);
    let acks = h.sent_requests(Method::Ack);
    assert_eq!(
        acks.len(),
        3,
        "re-ACK from the transaction and after timer M"
    );
    assert!(acks.iter().all(|a| *a == acks[0]), "the same ACK each time");
}

#[test]
fn failure_is_acked_by_the_transaction_and_reported() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 486), 5);
    let ack = h.sent_requests(Method::Ack).remove(0);
    assert_eq!(ack.top_via().unwrap().branch, inv.top_via().unwrap().branch);
    assert_eq!(
        h.events(leg),
        [LegEvent::Failed {
            status: 486,
            reason: "Busy Here".into()
        }]
    );
    h.advance(2000);
    assert!(h.freed(leg));
}

#[test]
fn proxy_challenge_is_answered_with_credentials_and_the_next_cseq() {
    let mut h = H::new();
    let leg = h.call(0);
    let first = invite_sent(&h);
    let mut challenge = answer_to(&first, 407);
    challenge.headers.push(
        "proxy-authenticate",
        "Digest realm=\"trunk\", nonce=\"abc\", algorithm=MD5",
    );
    h.receive(challenge, 5);
    assert_eq!(
        h.events(leg),
        [LegEvent::NeedsAuth {
            status: 407,
            challenges: vec!["Digest realm=\"trunk\", nonce=\"abc\", algorithm=MD5".into()]
        }]
    );
    assert_eq!(
        h.sent_requests(Method::Ack).len(),
        1,
        "407 ACKed by the transaction"
    );
    let creds = "Digest username=\"helpline\", realm=\"trunk\", nonce=\"abc\", uri=\"sip:agent7@192.0.2.10:5060\", response=\"0123\"";
    h.legs
        .authorize(leg, vec![creds.to_string()], h.at(6))
        .unwrap();
    h.drain();
    let second = invite_sent(&h);
    assert_eq!(second.cseq().unwrap().seq, 2);
    assert_ne!(
        second.top_via().unwrap().branch,
        first.top_via().unwrap().branch
    );
    assert_eq!(second.headers.get("proxy-authorization"), Some(creds));
    assert_eq!(second.call_id().unwrap(), first.call_id().unwrap());
    assert_eq!(second.from().unwrap(), first.from().unwrap());
    h.receive(answer_to(&second, 200), 10);
    let ack = h.sent_requests(Method::Ack).pop().unwrap();
    assert_eq!(ack.cseq().unwrap().seq, 2);
    assert!(matches!(
        h.events(leg).last(),
        Some(LegEvent::Answered { .. })
    ));
}

#[test]
fn challenge_answered_from_configured_credentials_verifies_and_is_repeated_in_the_ack() {
    use crate::sip::auth::{ha1, Algorithm, Credentials, DigestResponse, Secret};
    let mut h = H::new();
    let leg = h.call(0);
    let first = invite_sent(&h);
    let mut challenge = answer_to(&first, 407);
    challenge.headers.push(
        "proxy-authenticate",
        "Digest realm=\"trunk.example\", nonce=\"n0nce\", qop=\"auth\", algorithm=SHA-256",
    );
    h.receive(challenge, 5);
    let creds = Credentials {
        username: "helpline".into(),
        secret: Secret::Password("s3cret".into()),
    };
    h.legs.authorize_with(leg, &creds, h.at(6)).unwrap();
    h.drain();
    let second = invite_sent(&h);
    let value = second.headers.get("proxy-authorization").unwrap();
    let digest = DigestResponse::parse(value).unwrap();
    let secret = ha1(&Algorithm::Sha256, "helpline", "trunk.example", "s3cret").unwrap();
    assert!(digest.verify("INVITE", &secret, &second.body));
    assert_eq!(digest.uri, second.uri.to_string());
    h.receive(answer_to(&second, 200), 10);
    let ack = h.sent_requests(Method::Ack).pop().unwrap();
    assert_eq!(ack.headers.get("proxy-authorization"), Some(value));
}

#[test]
fn repeated_challenges_fail_after_the_configured_attempts() {
    let mut h = H::new();
    let leg = h.call(0);
    for round in 0..3u64 {
        let inv = invite_sent(&h);
        let mut challenge = answer_to(&inv, 401);
        challenge
            .headers
            .push("www-authenticate", "Digest realm=\"x\", nonce=\"n\"");
        h.receive(challenge, 5 + round);
        let _ = h
            .legs
            .authorize(leg, vec!["Digest bad".into()], h.at(5 + round));
        h.drain();
    }
    let events = h.events(leg);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, LegEvent::NeedsAuth { .. }))
            .count(),
        2
    );
    assert_eq!(
        events.last(),
        Some(&LegEvent::Failed {
            status: 401,
            reason: "Unauthorized".into()
        })
    );
}

#[test]
fn cancel_after_180_sends_cancel_and_487_reports_cancelled() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 180), 5);
    h.legs.cancel(leg, None, h.at(6)).unwrap();
    h.drain();
    let cancel = h.sent_requests(Method::Cancel).remove(0);
    assert_eq!(
        cancel.top_via().unwrap().branch,
        inv.top_via().unwrap().branch
    );
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(cancel.uri, inv.uri);
    h.receive(Response::for_request(&cancel, 200, ""), 7);
    h.receive(answer_to(&inv, 487), 8);
    assert_eq!(h.sent_requests(Method::Ack).len(), 1);
    assert_eq!(h.events(leg).last(), Some(&LegEvent::Cancelled));
    h.advance(2000);
    assert!(h.freed(leg));
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.legs.cancel(leg, None, h.at(1)).unwrap();
    h.drain();
    assert!(
        h.sent_requests(Method::Cancel).is_empty(),
        "§9.1: not before a 1xx"
    );
    h.receive(Response::for_request(&inv, 100, ""), 3);
    assert_eq!(h.sent_requests(Method::Cancel).len(), 1);
    assert!(
        !h.events(leg)
            .iter()
            .any(|e| matches!(e, LegEvent::Ringing { .. })),
        "no Ringing once cancelled"
    );
}

#[test]
fn cancel_without_a_final_response_gives_up_after_64_t1() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 180), 5);
    h.legs.cancel(leg, None, h.at(10)).unwrap();
    h.drain();
    h.advance(649);
    assert!(!h.events(leg).contains(&LegEvent::Cancelled));
    h.advance(650);
    assert_eq!(h.events(leg).last(), Some(&LegEvent::Cancelled));
    h.advance(5000);
    assert!(h.freed(leg) && h.legs.layer().is_empty());
}

#[test]
fn answer_racing_our_cancel_is_acked_and_hung_up() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 180), 5);
    h.legs.cancel(leg, None, h.at(6)).unwrap();
    h.receive(answer_to(&inv, 200), 7);
    assert_eq!(h.sent_requests(Method::Ack).len(), 1);
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
    assert_eq!(h.events(leg).last(), Some(&LegEvent::Cancelled));
}

#[test]
fn no_response_times_out_as_408() {
    let mut h = H::new();
    let leg = h.call(0);
    h.advance(640);
    assert_eq!(h.sent_requests(Method::Invite).len(), 7);
    assert_eq!(
        h.events(leg),
        [LegEvent::Failed {
            status: 408,
            reason: "Request Timeout".into()
        }]
    );
    assert!(h.freed(leg));
}

#[test]
fn second_fork_answer_is_acked_and_released() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 200), 5);
    let other = Response::for_request(&inv, 200, "").with_to_tag("fork2");
    let mut other = other;
    other.headers.push("contact", "<sip:agent7@192.0.2.11>");
    h.receive(other, 6);
    let byes = h.sent_requests(Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].to().unwrap().tag(), Some("fork2"));
    assert_eq!(h.sent_requests(Method::Ack).len(), 2);
    assert_eq!(
        h.events(leg)
            .iter()
            .filter(|e| matches!(e, LegEvent::Answered { .. }))
            .count(),
        1
    );
}

#[test]
fn bye_from_the_callee_ends_the_call() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 200), 5);
    let mut callee = callee_dialog(&inv);
    h.receive(callee.new_request(Method::Bye, &phone_via("z9hG4bKcb")), 50);
    assert!(h.sent_statuses().contains(&(200, "BYE".into())));
    assert_eq!(
        h.events(leg).last(),
        Some(&LegEvent::Ended {
            by: EndedBy::Remote,
            cause: EndCause::Bye
        })
    );
    h.advance(5000);
    assert!(h.freed(leg));
}

#[test]
fn a_cancel_with_a_reason_carries_it_even_when_deferred_until_the_first_provisional() {
    const REASON: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    // Before any provisional the CANCEL waits (RFC 3261 §9.1).
    h.legs.cancel(leg, Some(REASON.into()), h.at(1)).unwrap();
    h.drain();
    assert!(h.sent_requests(Method::Cancel).is_empty());
    h.receive(answer_to(&inv, 180), 2);
    let cancel = h.sent_requests(Method::Cancel).remove(0);
    assert_eq!(cancel.headers.get("reason"), Some(REASON));
    // Without a reason, none is sent.
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    h.receive(answer_to(&inv, 180), 1);
    h.legs.cancel(leg, None, h.at(2)).unwrap();
    h.drain();
    let cancel = h.sent_requests(Method::Cancel).remove(0);
    assert_eq!(cancel.headers.get("reason"), None);
}
