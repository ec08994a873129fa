//! Scripted scenarios of one call (see [`super::harness`]).

use super::harness::{cancelled, rung, told_router, Harness};
use super::*;
use crate::acd::router::Input as R;
use crate::acd::service::{CallbackCue, Cue, OutcomeCause};

fn call() -> CallId {
    CallId::from("call-1")
}

fn agent(a: &str) -> AgentId {
    AgentId::from(a)
}

#[test]
fn the_ivr_queues_the_call_and_it_joins_the_router_once_the_ticket_is_known() {
    let mut h = Harness::new();
    assert_eq!(h.m.phase(), &Phase::Ivr);
    assert_eq!(h.feed(Input::Queue), vec![Action::FindTicket]);
    assert_eq!(h.m.phase(), &Phase::Joining);
    assert_eq!(h.feed(Input::TicketKnown), vec![Action::EnterRouter]);
    assert_eq!(h.m.phase(), &Phase::Queued);
    assert!(h.feed(Input::TicketKnown).is_empty(), "joined once");
}

#[test]
fn a_hang_up_while_the_ticket_is_looked_up_never_reaches_the_router() {
    let mut h = Harness::new();
    h.feed(Input::Queue);
    let a = h.feed(Input::CallerHungUp);
    assert_eq!(
        a,
        vec![Action::Abandoned],
        "stored as abandoned, router not told"
    );
    assert!(
        h.feed(Input::TicketKnown).is_empty(),
        "a late ticket does nothing"
    );
    assert_eq!(h.m.phase(), &Phase::Ended);
}

#[test]
fn an_offer_waits_for_the_pop_then_rings_and_shows_on_the_page() {
    let mut h = Harness::queued();
    assert_eq!(h.offer(&["ann"]), vec![Action::Pop]);
    let leg = h.leg_of("ann");
    assert_eq!(h.m.legs().phase(leg), Some(LegPhase::Waiting));
    let a = h.feed(Input::PopReady);
    assert_eq!(
        a,
        vec![Action::Ring {
            leg,
            role: Role::Agent("ann".into())
        }]
    );
    let a = h.feed(Input::RingStarted {
        leg,
        result: Ok(()),
    });
    assert_eq!(
        a,
        vec![Action::ShowOffer {
            leg,
            agent: "ann".into()
        }]
    );
    assert_eq!(h.m.legs().phase(leg), Some(LegPhase::Ringing));
}

#[test]
fn bye_while_the_pop_is_in_flight_rings_nobody() {
    let mut h = Harness::queued();
    h.offer(&["ann", "bob"]);
    let a = h.feed(Input::CallerHungUp);
    assert_eq!(
        told_router(&a),
        vec![R::CallAbandoned { call: call() }],
        "the router hears the caller left"
    );
    assert!(a.contains(&Action::Abandoned));
    let late = h.feed(Input::PopReady);
    assert!(
        rung(&late).is_empty(),
        "no phone rings after the caller left: {late:?}"
    );
    assert_eq!(h.m.phase(), &Phase::Ended);
}

#[test]
fn bye_while_the_webrtc_leg_is_opening_takes_the_leg_down_when_it_arrives() {
    let mut h = Harness::queued();
    h.offer(&["ann"]);
    let leg = rung(&h.feed(Input::PopReady))[0];
    let a = h.feed(Input::CallerHungUp);
    assert_eq!(cancelled(&a), vec![(leg, Withdrawn::CallerHungUp)]);
    // The leg's set-up finishes after the hang-up: it is cancelled, never offered.
    let late = h.feed(Input::RingStarted {
        leg,
        result: Ok(()),
    });
    assert_eq!(cancelled(&late), vec![(leg, Withdrawn::CallerHungUp)]);
    assert!(!late.iter().any(|a| matches!(a, Action::ShowOffer { .. })));
    // Even an answer from it is hung up, not bridged.
    let late = h.feed(Input::LegAnswered { leg });
    assert_eq!(late, vec![Action::HangUpLeg { leg }]);
}

#[test]
fn ring_all_with_three_agents_the_first_answer_wins_and_the_others_are_cancelled() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann", "bob", "cat"]);
    assert_eq!(legs.len(), 3, "three legs ring at once");
    assert_eq!(h.m.legs().offers(), legs);
    let a = h.feed(Input::LegAnswered { leg: legs[1] });
    assert_eq!(
        cancelled(&a),
        vec![
            (legs[0], Withdrawn::AnsweredElsewhere),
            (legs[2], Withdrawn::AnsweredElsewhere)
        ]
    );
    assert!(a.contains(&Action::Connect {
        leg: legs[1],
        agent: "bob".into()
    }));
    assert_eq!(
        told_router(&a),
        vec![R::OfferAnswered {
            call: call(),
            agent: agent("bob")
        }]
    );
    assert_eq!(h.m.phase(), &Phase::Talking { agent: legs[1] });
    let caller = h.m.caller_leg();
    assert!(h.m.hears().hears(caller, legs[1]) && h.m.hears().hears(legs[1], caller));
    assert!(!h.m.hears().hears(caller, legs[0]));
    // The router's own stop for the others changes nothing more.
    let a = h.cue(Cue::StopRinging {
        agent: "ann".into(),
        reason: StopReason::AnsweredElsewhere,
    });
    assert!(a.is_empty(), "cancelled once: {a:?}");
}

#[test]
fn glare_a_second_answer_is_hung_up_never_bridged() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann", "bob", "cat"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    // The others' 200s crossed our CANCELs: each is hung up (the SIP leg ACKs it, then BYE).
    for leg in &legs[1..] {
        let a = h.feed(Input::LegAnswered { leg: *leg });
        assert_eq!(a, vec![Action::HangUpLeg { leg: *leg }]);
    }
    assert_eq!(h.m.phase(), &Phase::Talking { agent: legs[0] });
    assert!(!h.m.hears().hears(h.m.caller_leg(), legs[1]));
}

#[test]
fn rona_cancels_the_offer_and_the_next_agent_is_rung() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    let a = h.cue(Cue::StopRinging {
        agent: "ann".into(),
        reason: StopReason::NoAnswer,
    });
    assert_eq!(cancelled(&a), vec![(legs[0], Withdrawn::NoAnswer)]);
    assert!(told_router(&a).is_empty(), "the router decided it");
    // The pop is ready: the next offer rings at once.
    let a = h.offer(&["bob"]);
    assert_eq!(rung(&a).len(), 1);
    assert_eq!(h.m.phase(), &Phase::Queued);
}

#[test]
fn a_phone_that_refuses_hands_the_offer_back_to_the_router() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    let a = h.feed(Input::LegGone {
        leg: legs[0],
        why: LegGoneWhy::Failed,
    });
    assert_eq!(
        told_router(&a),
        vec![R::OfferRejected {
            call: call(),
            agent: agent("ann")
        }]
    );
    assert_eq!(cancelled(&a), vec![(legs[0], Withdrawn::NoAnswer)]);
}

#[test]
fn an_agent_without_phone_or_page_is_refused_at_once() {
    let mut h = Harness::queued();
    h.offer(&["ann"]);
    let leg = rung(&h.feed(Input::PopReady))[0];
    let a = h.feed(Input::RingStarted {
        leg,
        result: Err("no phone".into()),
    });
    assert_eq!(
        told_router(&a),
        vec![R::OfferRejected {
            call: call(),
            agent: agent("ann")
        }]
    );
}

#[test]
fn the_agent_rejects_on_the_page() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    let a = h.feed(Input::DeskReject {
        agent: "ann".into(),
    });
    assert_eq!(cancelled(&a), vec![(legs[0], Withdrawn::Rejected)]);
    assert_eq!(told_router(&a).len(), 1);
}

#[test]
fn the_agent_hangs_up_and_the_ivr_goes_on_to_the_survey() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    let a = h.feed(Input::LegGone {
        leg: legs[0],
        why: LegGoneWhy::Ended,
    });
    assert_eq!(
        a,
        vec![
            Action::EndAgentPart {
                leg: legs[0],
                by: "agent"
            },
            Action::Router(R::CallEnded { call: call() }),
            Action::IvrAgentHungUp
        ]
    );
    assert_eq!(h.m.phase(), &Phase::AfterAgent);
    assert!(h.m.hears().is_empty());
    assert!(told_router(&h.feed(Input::CallerHungUp)).is_empty());
}

#[test]
fn the_caller_hangs_up_while_talking() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    let a = h.feed(Input::CallerHungUp);
    assert_eq!(
        a,
        vec![
            Action::EndAgentPart {
                leg: legs[0],
                by: "caller"
            },
            Action::Router(R::CallEnded { call: call() })
        ]
    );
    assert_eq!(h.m.phase(), &Phase::Ended);
}

#[test]
fn the_page_hangs_up_for_the_agent() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    assert!(h
        .feed(Input::DeskHangup {
            agent: "bob".into()
        })
        .is_empty());
    let a = h.feed(Input::DeskHangup {
        agent: "ann".into(),
    });
    assert!(a.contains(&Action::EndAgentPart {
        leg: legs[0],
        by: "agent"
    }));
}

#[test]
fn transfer_ends_the_agent_part_and_queues_again() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    assert!(h.m.transfer());
    let a = h.drain();
    assert_eq!(
        a,
        vec![
            Action::EndAgentPart {
                leg: legs[0],
                by: "transfer"
            },
            Action::Router(R::CallEnded { call: call() })
        ]
    );
    assert_eq!(h.m.phase(), &Phase::Queued);
    // The next offer waits for a fresh pop.
    assert_eq!(h.offer(&["bob"]), vec![Action::Pop]);
    let bob = rung(&h.feed(Input::PopReady))[0];
    h.feed(Input::RingStarted {
        leg: bob,
        result: Ok(()),
    });
    assert!(h
        .feed(Input::LegAnswered { leg: bob })
        .contains(&Action::Connect {
            leg: bob,
            agent: "bob".into()
        }));
}

#[test]
fn an_offer_that_crosses_the_answer_is_refused() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    let a = h.offer(&["bob"]);
    assert_eq!(
        a,
        vec![Action::Router(R::OfferRejected {
            call: call(),
            agent: agent("bob")
        })]
    );
}

#[test]
fn max_wait_to_voicemail_asks_for_a_message_records_it_and_says_it_is_saved() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    let a = h.cue(Cue::Outcome {
        outcome: OutcomeKind::Voicemail,
        cause: OutcomeCause::MaxWait,
    });
    assert_eq!(cancelled(&a), vec![(legs[0], Withdrawn::Withdrawn)]);
    assert!(a.contains(&Action::OutcomeDecided {
        kind: OutcomeKind::Voicemail,
        cause: OutcomeCause::MaxWait
    }));
    assert!(a.contains(&Action::PlayPrompt(PromptTag::LeaveMessage)));
    let a = h.feed(Input::PromptFinished {
        tag: PromptTag::LeaveMessage,
    });
    assert_eq!(a, vec![Action::Record { max: VOICEMAIL_MAX }]);
    assert!(h.m.recording_voicemail());
    let a = h.feed(Input::RecordingFinished);
    assert_eq!(a, vec![Action::PlayPrompt(PromptTag::MessageSaved)]);
    let a = h.feed(Input::PromptFinished {
        tag: PromptTag::MessageSaved,
    });
    assert_eq!(a, vec![Action::HangUpCaller { cause: "voicemail" }]);
    // The router removed the call itself: the hang-up tells it nothing.
    assert!(told_router(&h.feed(Input::CallerHungUp)).is_empty());
}

#[test]
fn a_voicemail_ends_with_hash_or_at_its_time_limit() {
    let mut h = Harness::queued();
    h.cue(Cue::Outcome {
        outcome: OutcomeKind::Voicemail,
        cause: OutcomeCause::QueueFull,
    });
    h.feed(Input::PromptFinished {
        tag: PromptTag::LeaveMessage,
    });
    assert!(h.feed(Input::Digit('5')).is_empty());
    assert_eq!(h.feed(Input::Digit('#')), vec![Action::StopRecording]);

    let mut h = Harness::queued();
    h.cue(Cue::Outcome {
        outcome: OutcomeKind::Voicemail,
        cause: OutcomeCause::MaxWait,
    });
    h.feed(Input::PromptFinished {
        tag: PromptTag::LeaveMessage,
    });
    assert!(h.advance(VOICEMAIL_MAX - Duration::from_secs(1)).is_empty());
    assert_eq!(
        h.advance(Duration::from_secs(1)),
        vec![Action::StopRecording]
    );
}

#[test]
fn a_caller_who_hangs_up_while_recording_has_the_message_closed() {
    let mut h = Harness::queued();
    h.cue(Cue::Outcome {
        outcome: OutcomeKind::Voicemail,
        cause: OutcomeCause::MaxWait,
    });
    h.feed(Input::PromptFinished {
        tag: PromptTag::LeaveMessage,
    });
    assert_eq!(h.feed(Input::CallerHungUp), vec![Action::StopRecording]);
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn queue_full_busy_plays_the_closing_prompt_then_hangs_up() {
    let mut h = Harness::queued();
    let a = h.cue(Cue::Outcome {
        outcome: OutcomeKind::Busy,
        cause: OutcomeCause::QueueFull,
    });
    assert_eq!(
        a,
        vec![
            Action::OutcomeDecided {
                kind: OutcomeKind::Busy,
                cause: OutcomeCause::QueueFull
            },
            Action::PlayPrompt(PromptTag::Busy)
        ]
    );
    let a = h.feed(Input::PromptFinished {
        tag: PromptTag::Busy,
    });
    assert_eq!(
        a,
        vec![Action::HangUpCaller {
            cause: "queue_busy"
        }]
    );
}

#[test]
fn an_outcome_for_a_call_already_answered_is_ignored() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    assert!(h
        .cue(Cue::Outcome {
            outcome: OutcomeKind::Busy,
            cause: OutcomeCause::MaxWait
        })
        .is_empty());
}

#[test]
fn a_booked_callback_waits_is_dialled_and_its_answer_is_offered_to_the_reserved_agent() {
    let mut h = Harness::queued();
    h.cue(Cue::Callback(CallbackCue::Offer));
    h.m.callback_booked();
    assert_eq!(h.m.phase(), &Phase::CallbackBooked);
    let a = h.feed(Input::CallerHungUp);
    assert!(
        a.is_empty(),
        "the booking keeps the place, nothing abandoned: {a:?}"
    );
    assert_eq!(h.m.phase(), &Phase::CallbackPending);
    h.m.dialling(1);
    assert_eq!(h.m.phase(), &Phase::Dialling { attempt: 1 });
    h.m.dial_failed();
    assert_eq!(
        h.m.phase(),
        &Phase::CallbackPending,
        "busy: wait for the retry"
    );
    h.m.dialling(2);
    let old_caller = h.m.caller_leg();
    h.m.called_back();
    assert_eq!(h.m.phase(), &Phase::Queued);
    assert_ne!(
        h.m.caller_leg(),
        old_caller,
        "the customer's leg is the new caller leg"
    );
    // The router's offer to the reserved agent is an ordinary offer.
    let legs = h.ringing(&["ann"]);
    let a = h.feed(Input::LegAnswered { leg: legs[0] });
    assert!(a.contains(&Action::Connect {
        leg: legs[0],
        agent: "ann".into()
    }));
    assert!(h.m.hears().hears(h.m.caller_leg(), legs[0]));
}

#[test]
fn a_callback_whose_attempts_all_fail_ends() {
    let mut h = Harness::queued();
    h.m.callback_booked();
    h.feed(Input::CallerHungUp);
    h.m.dialling(1);
    h.m.callback_failed();
    assert_eq!(h.m.phase(), &Phase::Ended);
}

#[test]
fn a_supervisor_joins_a_talking_call_and_leaves_it() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    let a = h.feed(Input::MonitorStart {
        supervisor: "sue".into(),
    });
    let sup = rung(&a);
    assert!(sup.is_empty(), "not before the agent answered");
    h.feed(Input::LegAnswered { leg: legs[0] });
    let a = h.feed(Input::MonitorStart {
        supervisor: "sue".into(),
    });
    let sup = rung(&a)[0];
    assert!(h
        .feed(Input::MonitorStart {
            supervisor: "sam".into()
        })
        .is_empty());
    h.feed(Input::RingStarted {
        leg: sup,
        result: Ok(()),
    });
    assert_eq!(
        h.feed(Input::LegAnswered { leg: sup }),
        vec![Action::JoinMonitor { leg: sup }]
    );
    let caller = h.m.caller_leg();
    assert!(h.m.hears().hears(sup, caller) && h.m.hears().hears(sup, legs[0]));
    let a = h.feed(Input::MonitorStop {
        supervisor: "sue".into(),
    });
    assert_eq!(a, vec![Action::HangUpLeg { leg: sup }]);
    assert!(!h.m.hears().hears(sup, caller));
    assert!(h.m.hears().hears(caller, legs[0]), "the bridge stays");
}

#[test]
fn the_agent_part_ending_takes_the_supervisor_with_it() {
    let mut h = Harness::queued();
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    let sup = rung(&h.feed(Input::MonitorStart {
        supervisor: "sue".into(),
    }))[0];
    h.feed(Input::RingStarted {
        leg: sup,
        result: Ok(()),
    });
    let a = h.feed(Input::LegGone {
        leg: legs[0],
        why: LegGoneWhy::Ended,
    });
    assert!(cancelled(&a).contains(&(sup, Withdrawn::Withdrawn)));
}

#[test]
fn a_call_past_its_maximum_length_is_hung_up_with_its_cause() {
    let mut h = Harness::queued();
    let start = h.now;
    h.m.limit_length(start + Duration::from_secs(14_400));
    assert_eq!(
        h.m.poll_timeout(),
        Some(start + Duration::from_secs(14_400))
    );
    let legs = h.ringing(&["ann"]);
    h.feed(Input::LegAnswered { leg: legs[0] });
    assert!(
        h.advance(Duration::from_secs(14_399)).is_empty(),
        "nothing before the limit"
    );
    assert_eq!(
        h.advance(Duration::from_secs(1)),
        vec![Action::HangUpCaller {
            cause: "max_call_length"
        }]
    );
    assert_eq!(h.m.poll_timeout(), None, "fired once");
    // Our BYE ends the caller's leg: the agent's part ends as for any hang-up.
    let a = h.feed(Input::CallerHungUp);
    assert!(a
        .iter()
        .any(|x| matches!(x, Action::EndAgentPart { by: "caller", .. })));
}

#[test]
fn the_length_limit_and_a_voicemail_deadline_both_wake_the_machine() {
    let mut h = Harness::new();
    h.m.limit_length(h.now + Duration::from_secs(60));
    h.feed(Input::CallerHungUp);
    assert_eq!(
        h.m.poll_timeout(),
        None,
        "a call that ended has no limit to run"
    );
    assert!(h.advance(Duration::from_secs(61)).is_empty());
}
