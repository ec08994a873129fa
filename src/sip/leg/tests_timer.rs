//! RFC 4028 session timer tests, on the fake clock: the interval negotiated (UAS and UAC),
//! 422 below Min-SE and the UAC's retry, our refreshes at half the interval (body-less
//! UPDATE, or re-INVITE with our SDP), the peer's refreshes moving the expiry, and BYE with
//! `EndCause::SessionExpired` when nobody refreshes or our refresh fails.
//! Transaction timers: T1 = 10 ms, 64*T1 = 640 ms. Session intervals are in seconds.

use bytes::Bytes;

use super::test_util::*;
use super::{EndCause, EndedBy, LegConfig, LegEvent, LegId};
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Request, Response};

/// Milliseconds in a second, for `H::at` / `H::advance`.
const S: u64 = 1000;

fn invite_with(branch: &str, headers: &[(&str, &str)]) -> Request {
    let mut inv = caller_invite(branch);
    for (name, value) in headers {
        inv.headers.push(name, *value);
    }
    inv
}

/// An incoming call with these extra INVITE headers, answered at 0 and ACKed at 1 ms.
/// Returns the leg, the caller's dialog and our 200.
fn answered(h: &mut H, headers: &[(&str, &str)]) -> (LegId, Dialog, Response) {
    let inv = invite_with("z9hG4bKt1", headers);
    h.receive(inv.clone(), 0);
    let leg = h.incoming()[0];
    h.legs
        .answer(leg, Bytes::from_static(ANSWER), h.at(0))
        .unwrap();
    h.drain();
    let ok = h.sent_responses(200).last().unwrap().clone();
    let d = caller_dialog(&inv, &ok);
    h.receive(d.ack_for_2xx(1, &phone_via("z9hG4bKt1ack")), 1);
    (leg, d, ok)
}

fn ended(h: &H, leg: LegId) -> Option<(EndedBy, EndCause)> {
    h.events(leg).into_iter().find_map(|e| match e {
        LegEvent::Ended { by, cause } => Some((by, cause)),
        _ => None,
    })
}

fn tokens(r: &Response, name: &str) -> Vec<String> {
    r.headers
        .tokens(name)
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect()
}

const PEER_REFRESHES_90: &[(&str, &str)] = &[("Supported", "timer"), ("Session-Expires", "90")];

#[test]
fn uas_takes_the_callers_interval_and_lets_the_caller_refresh() {
    let mut h = H::new();
    let (_, _, ok) = answered(
        &mut h,
        &[("Supported", "timer"), ("Session-Expires", "600")],
    );
    assert_eq!(ok.headers.get("session-expires"), Some("600;refresher=uac"));
    assert_eq!(tokens(&ok, "require"), ["timer"]);
    assert!(tokens(&ok, "supported").contains(&"timer".into()));
    assert!(tokens(&ok, "allow").contains(&"update".into()));
}

#[test]
fn uas_reduces_a_long_interval_to_ours_and_refreshes_for_a_caller_without_support() {
    let mut h = H::new();
    let (_, _, ok) = answered(
        &mut h,
        &[
            ("Supported", "timer"),
            ("Session-Expires", "7200;refresher=uas"),
        ],
    );
    assert_eq!(
        ok.headers.get("session-expires"),
        Some("1800;refresher=uas")
    );
    let mut h = H::new();
    let (_, _, ok) = answered(&mut h, &[]);
    assert_eq!(
        ok.headers.get("session-expires"),
        Some("1800;refresher=uas"),
        "a caller that cannot refresh leaves it to us"
    );
    assert!(
        ok.headers.get("require").is_none(),
        "no Require: timer toward a UAC without the extension"
    );
}

#[test]
fn interval_below_min_se_gets_422_with_our_min_se_and_no_call() {
    let mut h = H::new();
    h.receive(
        invite_with(
            "z9hG4bKt1",
            &[("Supported", "timer"), ("Session-Expires", "60")],
        ),
        0,
    );
    assert!(h.incoming().is_empty(), "the call layer never sees it");
    let r = h.sent_responses(422).remove(0);
    assert_eq!(r.headers.get("min-se"), Some("90"));
    assert_eq!(r.reason, "Session Interval Too Small");
    assert!(r.to_tag().is_some());
    h.advance(5 * S);
    assert!(h.legs.is_empty());
    // The caller's retry with the larger interval is accepted.
    h.receive(
        invite_with(
            "z9hG4bKt2",
            &[
                ("Supported", "timer"),
                ("Session-Expires", "90"),
                ("Min-SE", "90"),
            ],
        ),
        6 * S,
    );
    assert_eq!(h.incoming().len(), 1);
}

#[test]
fn our_min_se_is_configurable() {
    let cfg = LegConfig {
        min_se: 300,
        ..LegConfig::default()
    };
    let mut h = H::with_config(cfg);
    h.receive(
        invite_with(
            "z9hG4bKt1",
            &[("Supported", "timer"), ("Session-Expires", "120")],
        ),
        0,
    );
    let r = h.sent_responses(422).remove(0);
    assert_eq!(r.headers.get("min-se"), Some("300"));
}

#[test]
fn uas_refresher_sends_a_bodyless_update_at_half_the_interval_when_the_peer_allows_it() {
    let mut h = H::new();
    let (leg, _, _) = answered(
        &mut h,
        &[
            ("Supported", "timer"),
            ("Session-Expires", "90;refresher=uas"),
            ("Allow", "INVITE, ACK, CANCEL, BYE, UPDATE"),
        ],
    );
    h.advance(45 * S - 1);
    assert!(
        h.sent_requests(Method::Update).is_empty(),
        "not before 45 s"
    );
    h.advance(45 * S);
    let up = h.sent_requests(Method::Update).remove(0);
    assert!(up.body.is_empty());
    assert_eq!(up.headers.get("session-expires"), Some("90;refresher=uac"));
    assert_eq!(up.headers.get("min-se"), Some("90"));
    assert!(
        up.headers.contact().unwrap().is_some(),
        "UPDATE refreshes the target"
    );
    let mut ok = Response::for_request(&up, 200, "");
    ok.headers.push("session-expires", "90;refresher=uac");
    ok.headers.push("require", "timer");
    h.receive(ok, 45 * S + 5);
    h.advance(90 * S + 4);
    assert_eq!(h.sent_requests(Method::Update).len(), 1);
    h.advance(90 * S + 5);
    assert_eq!(
        h.sent_requests(Method::Update).len(),
        2,
        "next refresh half an interval after the last 2xx"
    );
    assert!(h.sent_requests(Method::Bye).is_empty());
    assert_eq!(
        h.events(leg),
        [LegEvent::Confirmed { sdp: None }],
        "refreshes are not the call layer's business"
    );
}

#[test]
fn uas_refresher_sends_a_reinvite_with_the_same_sdp_when_update_is_not_allowed() {
    let mut h = H::new();
    let (leg, _, _) = answered(
        &mut h,
        &[
            ("Supported", "timer"),
            ("Session-Expires", "90;refresher=uas"),
        ],
    );
    h.advance(45 * S);
    assert!(h.sent_requests(Method::Update).is_empty());
    let re = h.sent_requests(Method::Invite).remove(0);
    assert_eq!(&re.body[..], ANSWER, "our SDP again: no media change");
    assert_eq!(re.headers.get("session-expires"), Some("90;refresher=uac"));
    let mut ok = Response::for_request(&re, 200, "");
    ok.headers.push("contact", "<sip:caller@192.0.2.10:5060>");
    ok.headers.push("session-expires", "90;refresher=uac");
    ok.set_body("application/sdp", Bytes::from_static(OFFER));
    h.receive(ok, 45 * S + 5);
    let ack = h.sent_requests(Method::Ack).remove(0);
    assert_eq!(ack.cseq().unwrap().seq, re.cseq().unwrap().seq);
    assert_eq!(h.events(leg), [LegEvent::Confirmed { sdp: None }]);
    h.advance(90 * S + 5);
    assert_eq!(h.sent_requests(Method::Invite).len(), 2);
}

#[test]
fn silent_peer_refresher_gets_bye_at_the_interval_minus_a_third() {
    let mut h = H::new();
    let (leg, d, ok) = answered(&mut h, PEER_REFRESHES_90);
    assert_eq!(ok.headers.get("session-expires"), Some("90;refresher=uac"));
    h.advance(60 * S - 1);
    assert!(h.sent_requests(Method::Bye).is_empty());
    assert_eq!(ended(&h, leg), None);
    h.advance(60 * S);
    let bye = h.sent_requests(Method::Bye).remove(0);
    assert_eq!(bye.from().unwrap().tag(), Some(d.id.remote_tag.as_str()));
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired))
    );
    assert!(
        h.sent_requests(Method::Update).is_empty() && h.sent_requests(Method::Invite).is_empty(),
        "we were not the refresher"
    );
    h.receive(Response::for_request(&bye, 200, ""), 60 * S + 5);
    h.advance(70 * S);
    assert!(h.freed(leg));
}

#[test]
fn a_long_interval_expires_32_s_early() {
    let mut h = H::new();
    let (leg, _, _) = answered(
        &mut h,
        &[("Supported", "timer"), ("Session-Expires", "1800")],
    );
    h.advance(1768 * S - 1);
    assert_eq!(ended(&h, leg), None);
    h.advance(1768 * S);
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired))
    );
}

#[test]
fn a_reinvite_without_sdp_is_answered_with_our_sdp_and_refreshes_the_session() {
    let mut h = H::new();
    let (leg, mut d, ok) = answered(&mut h, PEER_REFRESHES_90);
    let events_before = h.events(leg).len();
    let mut re = d.new_request(Method::Invite, &phone_via("z9hG4bKre0"));
    re.headers.push("supported", "timer");
    re.headers.push("session-expires", "90");
    h.receive(re, 50 * S);
    let reok = h.sent_responses(200).last().unwrap().clone();
    assert_eq!(reok.cseq().unwrap().method, Method::Invite);
    assert_eq!(reok.body, ok.body, "our 2xx offers the session unchanged");
    assert_eq!(
        reok.headers.get("session-expires"),
        Some("90;refresher=uac")
    );
    assert!(
        !h.events(leg)[events_before..]
            .iter()
            .any(|e| matches!(e, LegEvent::ReInvite { .. })),
        "the call layer is not asked"
    );
    h.receive(d.ack_for_2xx(2, &phone_via("z9hG4bKre0ack")), 50 * S + 1);
    h.advance(110 * S - 1);
    assert!(
        h.sent_requests(Method::Bye).is_empty(),
        "refreshed at 50 s: no BYE before 110 s"
    );
    h.advance(110 * S);
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
}

#[test]
fn refreshes_from_the_peer_by_update_or_reinvite_move_the_expiry() {
    let mut h = H::new();
    let (leg, mut d, _) = answered(&mut h, PEER_REFRESHES_90);
    let mut up = d.new_request(Method::Update, &phone_via("z9hG4bKup1"));
    up.headers.push("supported", "timer");
    up.headers.push("session-expires", "90;refresher=uac");
    h.receive(up, 50 * S);
    let ok = h
        .sent_responses(200)
        .into_iter()
        .find(|r| r.cseq().unwrap().method == Method::Update)
        .unwrap();
    assert_eq!(ok.headers.get("session-expires"), Some("90;refresher=uac"));
    assert_eq!(tokens(&ok, "require"), ["timer"]);
    h.advance(100 * S);
    assert!(h.sent_requests(Method::Bye).is_empty(), "no BYE at 60 s");
    let mut re = d.new_request(Method::Invite, &phone_via("z9hG4bKre1"));
    re.headers.push("supported", "timer");
    re.headers.push("session-expires", "90");
    re.set_body("application/sdp", Bytes::from_static(OFFER));
    h.receive(re, 100 * S);
    assert!(matches!(
        h.events(leg).last(),
        Some(LegEvent::ReInvite { .. })
    ));
    h.legs
        .answer_reinvite(leg, Bytes::from_static(ANSWER), h.at(100 * S))
        .unwrap();
    h.drain();
    let ok = h.sent_responses(200).last().unwrap().clone();
    assert_eq!(ok.cseq().unwrap().method, Method::Invite);
    assert_eq!(ok.headers.get("session-expires"), Some("90;refresher=uac"));
    h.receive(d.ack_for_2xx(3, &phone_via("z9hG4bKre1ack")), 100 * S + 1);
    h.advance(160 * S - 1);
    assert!(h.sent_requests(Method::Bye).is_empty(), "no BYE at 110 s");
    h.advance(160 * S);
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired))
    );
}

#[test]
fn a_peer_refresh_below_our_min_se_gets_422_and_changes_nothing() {
    let mut h = H::new();
    let (leg, mut d, _) = answered(&mut h, PEER_REFRESHES_90);
    let mut up = d.new_request(Method::Update, &phone_via("z9hG4bKup1"));
    up.headers.push("supported", "timer");
    up.headers.push("session-expires", "30");
    h.receive(up, 10 * S);
    assert_eq!(h.sent_responses(422)[0].headers.get("min-se"), Some("90"));
    h.advance(60 * S);
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired))
    );
}

/// We refresh by UPDATE every 45 s; returns the leg and our first UPDATE (sent at 45 s).
fn refreshing_by_update(h: &mut H) -> (LegId, Request) {
    let (leg, _, _) = answered(
        h,
        &[
            ("Supported", "timer"),
            ("Session-Expires", "90;refresher=uas"),
            ("Allow", "INVITE, ACK, BYE, UPDATE"),
        ],
    );
    h.advance(45 * S);
    let up = h.sent_requests(Method::Update).remove(0);
    (leg, up)
}

#[test]
fn a_refresh_answered_481_or_408_ends_the_leg_with_bye() {
    for status in [481, 408] {
        let mut h = H::new();
        let (leg, up) = refreshing_by_update(&mut h);
        h.receive(Response::for_request(&up, status, ""), 45 * S + 5);
        assert_eq!(h.sent_requests(Method::Bye).len(), 1, "{status}");
        assert_eq!(
            ended(&h, leg),
            Some((EndedBy::Local, EndCause::SessionExpired)),
            "{status}"
        );
    }
}

#[test]
fn a_refresh_nobody_answers_ends_the_leg_with_bye() {
    let mut h = H::new();
    let (leg, _) = refreshing_by_update(&mut h);
    h.advance(45 * S + 639);
    assert_eq!(ended(&h, leg), None, "retransmitting until 64*T1");
    h.advance(45 * S + 640);
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired))
    );
}

#[test]
fn a_refresh_refused_with_405_falls_back_to_reinvite() {
    let mut h = H::new();
    let (leg, up) = refreshing_by_update(&mut h);
    h.receive(Response::for_request(&up, 405, ""), 45 * S + 5);
    let re = h.sent_requests(Method::Invite).remove(0);
    assert_eq!(&re.body[..], ANSWER);
    assert_eq!(ended(&h, leg), None);
}

fn invite_sent(h: &H) -> Request {
    h.sent_requests(Method::Invite).last().unwrap().clone()
}

#[test]
fn uac_offers_the_timer_and_retries_a_422_with_the_larger_min_se() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    assert!(inv.headers.tokens("supported").contains(&"timer"));
    assert_eq!(inv.headers.get("session-expires"), Some("1800"));
    assert_eq!(inv.headers.get("min-se"), Some("90"));
    let mut too_small = answer_to(&inv, 422);
    too_small.headers.push("min-se", "3600");
    h.receive(too_small, 5);
    assert_eq!(h.sent_requests(Method::Ack).len(), 1, "422 ACKed");
    let inv2 = invite_sent(&h);
    assert_eq!(inv2.cseq().unwrap().seq, 2);
    assert_ne!(
        inv2.top_via().unwrap().branch,
        inv.top_via().unwrap().branch
    );
    assert_eq!(inv2.call_id().unwrap(), inv.call_id().unwrap());
    assert_eq!(inv2.from().unwrap().tag(), inv.from().unwrap().tag());
    assert_eq!(inv2.headers.get("session-expires"), Some("3600"));
    assert_eq!(inv2.headers.get("min-se"), Some("3600"));
    assert!(h.events(leg).is_empty(), "no failure reported");
    let mut ok = answer_to(&inv2, 200);
    ok.headers.push("session-expires", "3600;refresher=uac");
    ok.headers.push("require", "timer");
    ok.set_body("application/sdp", Bytes::from_static(ANSWER));
    h.receive(ok, 10);
    assert_eq!(
        h.events(leg),
        [LegEvent::Answered {
            sdp: Some(Bytes::from_static(ANSWER))
        }]
    );
    h.advance(1800 * S + 9);
    assert_eq!(h.sent_requests(Method::Invite).len(), 2);
    h.advance(1800 * S + 10);
    let re = invite_sent(&h);
    assert_eq!(re.cseq().unwrap().seq, 3, "a refresh re-INVITE");
    assert_eq!(&re.body[..], OFFER, "our offer again");
    assert_eq!(
        re.headers.get("session-expires"),
        Some("3600;refresher=uac")
    );
}

#[test]
fn uac_gives_up_on_a_422_that_asks_for_nothing_more() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    let mut too_small = answer_to(&inv, 422);
    too_small.headers.push("min-se", "1800");
    h.receive(too_small, 5);
    assert_eq!(h.sent_requests(Method::Invite).len(), 1);
    assert!(matches!(
        h.events(leg)[..],
        [LegEvent::Failed { status: 422, .. }]
    ));
}

#[test]
fn uac_obeys_refresher_uas_and_ends_the_call_when_the_callee_stops_refreshing() {
    let mut h = H::new();
    let leg = h.call(0);
    let inv = invite_sent(&h);
    let mut ok = answer_to(&inv, 200);
    ok.headers.push("session-expires", "120;refresher=uas");
    ok.headers.push("require", "timer");
    ok.headers.push("allow", "INVITE, ACK, BYE, UPDATE");
    h.receive(ok, 0);
    // The callee refreshes at 60 s; then nothing: BYE at 60 + 120 - 32 = 148 s.
    let mut d = callee_dialog(&inv);
    let mut up = d.new_request(Method::Update, &phone_via("z9hG4bKup1"));
    up.headers.push("supported", "timer");
    up.headers.push("session-expires", "120;refresher=uac");
    h.receive(up, 60 * S);
    assert!(h.sent_statuses().contains(&(200, "UPDATE".into())));
    h.advance(148 * S - 1);
    assert!(h.sent_requests(Method::Bye).is_empty());
    assert!(
        h.sent_requests(Method::Update).is_empty() && h.sent_requests(Method::Invite).len() == 1,
        "the callee is the refresher"
    );
    h.advance(148 * S);
    assert_eq!(h.sent_requests(Method::Bye).len(), 1);
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired))
    );
}

#[test]
fn uac_runs_no_timer_when_a_supporting_callee_declines_and_its_own_when_it_cannot() {
    // Supports the extension, answers without Session-Expires: no session expiry.
    let mut h = H::new();
    let leg = h.call(0);
    let mut ok = answer_to(&invite_sent(&h), 200);
    ok.headers.push("supported", "timer");
    h.receive(ok, 0);
    h.advance(4000 * S);
    assert_eq!(h.sent_requests(Method::Invite).len(), 1);
    assert_eq!(ended(&h, leg), None);
    // No support at all: we refresh ourselves (at 900 s), so a vanished phone is found.
    let mut h = H::new();
    let leg = h.call(0);
    h.receive(answer_to(&invite_sent(&h), 200), 0);
    h.advance(900 * S);
    assert_eq!(h.sent_requests(Method::Invite).len(), 2);
    h.advance(900 * S + 640);
    assert_eq!(
        ended(&h, leg),
        Some((EndedBy::Local, EndCause::SessionExpired)),
        "the refresh re-INVITE timed out"
    );
}

#[test]
fn session_expires_0_turns_timers_off() {
    let cfg = LegConfig {
        session_expires: 0,
        ..LegConfig::default()
    };
    let mut h = H::with_config(cfg.clone());
    let (leg, _, ok) = answered(&mut h, &[("Supported", "timer"), ("Session-Expires", "60")]);
    assert!(ok.headers.get("session-expires").is_none());
    assert!(!tokens(&ok, "supported").contains(&"timer".into()));
    h.advance(4000 * S);
    assert!(h.sent_requests(Method::Bye).is_empty());
    assert_eq!(ended(&h, leg), None);
    let mut h = H::with_config(cfg);
    h.call(0);
    let inv = invite_sent(&h);
    assert!(inv.headers.get("session-expires").is_none());
    assert!(inv.headers.get("supported").is_none());
}

#[test]
fn uac_stops_retrying_after_two_422s() {
    let mut h = H::new();
    let leg = h.call(0);
    for (i, min) in ["2000", "3000", "4000"].into_iter().enumerate() {
        let mut too_small = answer_to(&invite_sent(&h), 422);
        too_small.headers.push("min-se", min);
        h.receive(too_small, 5 + i as u64);
    }
    assert_eq!(h.sent_requests(Method::Invite).len(), 3, "two retries");
    assert!(matches!(
        h.events(leg)[..],
        [LegEvent::Failed { status: 422, .. }]
    ));
}

#[test]
fn a_422_to_our_refresh_raises_the_interval_and_refreshes_again() {
    let mut h = H::new();
    let (leg, up) = refreshing_by_update(&mut h);
    let mut too_small = Response::for_request(&up, 422, "");
    too_small.headers.push("min-se", "120");
    h.receive(too_small, 45 * S + 5);
    let ups = h.sent_requests(Method::Update);
    assert_eq!(ups.len(), 2);
    assert_eq!(
        ups[1].headers.get("session-expires"),
        Some("120;refresher=uac")
    );
    assert_eq!(ups[1].headers.get("min-se"), Some("120"));
    assert_eq!(ended(&h, leg), None);
}

#[test]
fn a_refresh_left_to_a_failed_hold_reinvite_is_sent_later() {
    let mut h = H::new();
    let (leg, _, _) = answered(
        &mut h,
        &[
            ("Supported", "timer"),
            ("Session-Expires", "90;refresher=uas"),
        ],
    );
    // The call layer's re-INVITE is in flight when our refresh falls due (45 s)...
    h.legs
        .reinvite(leg, Bytes::from_static(ANSWER), h.at(45 * S - 5))
        .unwrap();
    h.drain();
    h.advance(45 * S);
    let hold = h.sent_requests(Method::Invite).remove(0);
    assert_eq!(
        h.sent_requests(Method::Invite).len(),
        1,
        "no second re-INVITE"
    );
    // ...and is refused: the refresh goes out halfway to the expiry (60 s) instead.
    h.receive(Response::for_request(&hold, 488, ""), 46 * S);
    assert!(matches!(
        h.events(leg).last(),
        Some(LegEvent::ReInviteDone { status: 488, .. })
    ));
    h.advance(53 * S - 1);
    assert_eq!(h.sent_requests(Method::Invite).len(), 1);
    h.advance(53 * S);
    assert_eq!(h.sent_requests(Method::Invite).len(), 2);
}
