//! Engine tests for the nodes that listen to the caller: play, menu, collect, callback offer,
//! voicemail and survey.

use super::testkit::*;
use super::*;
use crate::ivr::crm::{FixtureCrm, TicketPriority};

const MENU: &str = r#"
[nodes.m]
kind = "menu"
prompt = "main_menu"
choices = { "1" = "q1", "2" = "q2" }
timeout_secs = 5
retries = 2
invalid_prompt = "invalid_option"
timeout_prompt = "no_input"
fallback = "fb"

[nodes.q1]
kind = "enqueue"
queue = "password"

[nodes.q2]
kind = "enqueue"
queue = "hardware"

[nodes.fb]
kind = "enqueue"
queue = "tickets"
"#;

fn menu_call() -> Call {
    Call::new(&plan_text("m", false, MENU))
}

#[test]
fn menu_plays_its_prompt_and_starts_the_timer_only_after_it() {
    let mut c = menu_call();
    let acts = c.start();
    assert_eq!(plays(&acts), vec![vec!["en/main_menu"]]);
    assert!(matches!(
        acts.last(),
        Some(Action::Play { barge_in: true, .. })
    ));
    assert_eq!(
        c.s.next_deadline(),
        None,
        "no timeout while the prompt plays"
    );
    c.finish();
    assert_eq!(c.timer_secs(), Some(5));
}

#[test]
fn digit_during_menu_prompt_stops_it_and_chooses() {
    let mut c = menu_call();
    c.start();
    let acts = c.digit('2');
    assert_eq!(acts.first(), Some(&Action::StopPlayback));
    assert!(events(&acts).contains(&IvrEventKind::Choice {
        digit: '2',
        next: "q2".into()
    }));
    assert_eq!(enqueued(&acts).unwrap().queue, "hardware");
    assert!(c.s.is_enqueued());
}

#[test]
fn invalid_digits_reprompt_then_fall_back_after_the_retries() {
    let mut c = menu_call();
    c.start();
    c.finish();
    let acts = c.digit('7');
    assert_eq!(
        events(&acts),
        vec![
            IvrEventKind::Invalid { input: "7".into() },
            IvrEventKind::Retry { attempt: 2 }
        ]
    );
    assert_eq!(
        plays(&acts),
        vec![vec!["en/invalid_option", "en/main_menu"]]
    );
    c.finish();
    let acts = c.digit('8');
    assert!(events(&acts).contains(&IvrEventKind::Retry { attempt: 3 }));
    c.finish();
    let acts = c.digit('9');
    assert!(events(&acts).contains(&IvrEventKind::Fallback { to: "fb".into() }));
    assert_eq!(enqueued(&acts).unwrap().queue, "tickets");
}

#[test]
fn silence_gets_the_timeout_prompt_then_the_fallback() {
    let mut c = menu_call();
    c.start();
    c.finish();
    let acts = c.expire();
    assert_eq!(
        events(&acts)[..2],
        [IvrEventKind::Timeout, IvrEventKind::Retry { attempt: 2 }]
    );
    assert_eq!(plays(&acts), vec![vec!["en/no_input", "en/main_menu"]]);
    c.finish();
    c.expire();
    c.finish();
    let acts = c.expire();
    assert!(events(&acts).contains(&IvrEventKind::Fallback { to: "fb".into() }));
    assert_eq!(enqueued(&acts).unwrap().queue, "tickets");
}

#[test]
fn early_timeout_and_stale_prompt_finished_are_ignored() {
    let mut c = menu_call();
    c.start();
    c.finish();
    assert!(
        c.send(Input::Timeout).is_empty(),
        "deadline not reached yet"
    );
    c.digit('7'); // re-prompt with a new PlayId
    let acts = c.send(Input::PromptFinished(PlayId(1)));
    assert!(acts.is_empty());
    assert_eq!(c.s.next_deadline(), None, "still playing the re-prompt");
}

#[test]
fn caller_hangup_mid_menu_is_a_drop_out_at_that_node() {
    let mut c = menu_call();
    c.start();
    let acts = c.send(Input::CallerHungUp);
    assert_eq!(
        acts,
        vec![Action::Event(IvrEvent {
            node: "m".into(),
            kind: IvrEventKind::CallerHungUp
        })]
    );
    assert!(c.s.is_finished());
    assert!(c.digit('1').is_empty());
}

const PLAYS: &str = r#"
[nodes.hello]
kind = "play"
prompt = ["welcome", "welcome@es"]
next = "intro"

[nodes.intro]
kind = "play"
prompt = "network_outage_info"
barge_in = true
next = "m"
"#;

#[test]
fn play_ignores_digits_unless_barge_in_and_types_ahead_into_the_menu() {
    let mut c = Call::new(&plan_text("hello", false, &format!("{PLAYS}{MENU}")));
    let acts = c.start();
    assert_eq!(
        plays(&acts),
        vec![vec!["en/welcome", "es/welcome"]],
        "pinned prompt keeps its language"
    );
    assert!(c.digit('1').is_empty(), "no barge-in on the welcome");
    let acts = c.finish();
    assert_eq!(plays(&acts), vec![vec!["en/network_outage_info"]]);
    let acts = c.digit('1');
    assert_eq!(acts.first(), Some(&Action::StopPlayback));
    assert_eq!(
        plays(&acts),
        Vec::<Vec<String>>::new(),
        "menu prompt skipped: the digit answers it"
    );
    assert_eq!(enqueued(&acts).unwrap().queue, "password");
}

const COLLECT: &str = r#"
[nodes.c]
kind = "collect"
prompt = "enter_ticket"
min_len = 6
max_len = 8
patterns = ["ZXXXX."]
timeout_secs = 8
inter_digit_timeout_secs = 3
retries = 1
invalid_prompt = "invalid_ticket"
timeout_prompt = "no_input"
lookup = "ticket"
var = "ticket_number"
next = "found"
on_invalid = "fb"
on_not_found = "nf"

[nodes.found]
kind = "enqueue"
queue = "tickets"

[nodes.fb]
kind = "enqueue"
queue = "hardware"

[nodes.nf]
kind = "hangup"
prompt = "ticket_not_found"
"#;

fn crm() -> FixtureCrm {
    let mut crm = FixtureCrm::default();
    crm.tickets.insert(
        "123456".into(),
        TicketFact {
            id: "123456".into(),
            priority: TicketPriority::High,
        },
    );
    crm
}

fn collect_call() -> Call {
    Call::new(&plan_text("c", false, COLLECT))
}

#[test]
fn ticket_number_with_terminator_is_looked_up_and_tags_the_call() {
    let mut c = collect_call();
    c.start();
    c.finish();
    assert_eq!(c.timer_secs(), Some(8), "first-digit timeout");
    c.digits("123");
    assert_eq!(c.timer_secs(), Some(3), "inter-digit timeout");
    let acts = c.digits("456#");
    assert!(events(&acts).contains(&IvrEventKind::Digits {
        digits: "123456".into()
    }));
    assert_eq!(
        effects(&acts),
        vec![Action::Lookup {
            kind: LookupKind::Ticket,
            value: "123456".into()
        }]
    );
    let acts = c.answer(&crm());
    assert!(events(&acts).contains(&IvrEventKind::TicketTagged {
        ticket: "123456".into()
    }));
    let req = enqueued(&acts).unwrap();
    assert_eq!(req.ticket.as_deref(), Some("123456"));
    assert!(req.tags.contains(&"ticket:123456".to_string()));
    assert_eq!(
        req.vars.get("ticket_number").map(String::as_str),
        Some("123456")
    );
}

#[test]
fn max_length_and_inter_digit_timeout_end_collection() {
    let mut c = collect_call();
    c.start();
    let acts = c.digits("12345678");
    assert_eq!(
        acts.first(),
        Some(&Action::StopPlayback),
        "first digit barges in"
    );
    assert!(effects(&acts).contains(&Action::Lookup {
        kind: LookupKind::Ticket,
        value: "12345678".into()
    }));

    let mut c = collect_call();
    c.start();
    c.digits("1234567");
    let acts = c.expire();
    assert!(effects(&acts).contains(&Action::Lookup {
        kind: LookupKind::Ticket,
        value: "1234567".into()
    }));
}

#[test]
fn invalid_numbers_reprompt_then_go_to_on_invalid() {
    let mut c = collect_call();
    c.start();
    let acts = c.digits("012345#");
    assert!(
        events(&acts).contains(&IvrEventKind::Invalid {
            input: "012345".into()
        }),
        "Z excludes a leading 0"
    );
    assert_eq!(
        plays(&acts),
        vec![vec!["en/invalid_ticket", "en/enter_ticket"]]
    );
    let acts = c.digits("123#");
    assert!(
        events(&acts).contains(&IvrEventKind::Fallback { to: "fb".into() }),
        "too short, no retries left"
    );
    assert_eq!(enqueued(&acts).unwrap().queue, "hardware");
}

#[test]
fn silence_in_collect_gets_the_timeout_prompt() {
    let mut c = collect_call();
    c.start();
    c.finish();
    let acts = c.expire();
    assert_eq!(
        events(&acts)[..2],
        [IvrEventKind::Timeout, IvrEventKind::Retry { attempt: 2 }]
    );
    assert_eq!(plays(&acts), vec![vec!["en/no_input", "en/enter_ticket"]]);
}

#[test]
fn unknown_ticket_goes_to_on_not_found() {
    let mut c = collect_call();
    c.start();
    c.digits("999999#");
    let acts = c.answer(&crm());
    assert!(events(&acts).contains(&IvrEventKind::LookupNotFound {
        kind: LookupKind::Ticket
    }));
    assert_eq!(plays(&acts), vec![vec!["en/ticket_not_found"]]);
    let acts = c.finish();
    assert_eq!(
        effects(&acts),
        vec![Action::Hangup {
            cause: HangupCause::Dialplan { reason: None }
        }]
    );
}

#[test]
fn crm_outage_or_silence_lets_the_caller_through_unverified() {
    let mut c = collect_call();
    c.start();
    c.digits("123456#");
    assert_eq!(c.timer_secs(), Some(LOOKUP_TIMEOUT.as_secs()));
    c.digit('5'); // typed while waiting: kept, not lost
    let acts = c.expire();
    assert!(events(&acts).contains(&IvrEventKind::LookupUnavailable {
        kind: LookupKind::Ticket
    }));
    let req = enqueued(&acts).unwrap();
    assert_eq!(req.ticket, None);
    assert!(req.tags.contains(&"crm_unavailable".to_string()));
    assert_eq!(
        req.vars.get("ticket_number").map(String::as_str),
        Some("123456")
    );

    let mut c = collect_call();
    c.start();
    c.digits("123456#");
    let acts = c.answer(&FixtureCrm {
        down: true,
        ..crm()
    });
    assert_eq!(enqueued(&acts).unwrap().queue, "tickets");
}

#[test]
fn lookup_answer_for_another_value_is_ignored() {
    let mut c = collect_call();
    c.start();
    c.digits("123456#");
    let stray = crate::ivr::crm::LookupResult {
        kind: LookupKind::Ticket,
        value: "654321".into(),
        answer: crate::ivr::crm::LookupAnswer::NotFound,
    };
    assert!(c.send(Input::LookupResult(stray)).is_empty());
}

const CALLBACK: &str = r#"
[nodes.cb]
kind = "callback_offer"
prompt = "callback_offer"
accept_digit = "1"
timeout_secs = 4
queue = "hardware"
on_accept = "bye"
next = "q"

[nodes.q]
kind = "enqueue"
queue = "hardware"

[nodes.bye]
kind = "hangup"
prompt = "callback_booked"
reason = "callback"
"#;

#[test]
fn accepted_callback_is_requested_for_the_caller_number() {
    let mut c = Call::new(&plan_text("cb", false, CALLBACK));
    c.start();
    let acts = c.digit('1');
    let req = acts.iter().find_map(|a| match a {
        Action::CallbackRequested(r) => Some(r.clone()),
        _ => None,
    });
    let req = req.expect("callback requested");
    assert_eq!(
        (req.caller.as_str(), req.queue.as_str()),
        ("+447700900123", "hardware")
    );
    assert_eq!(plays(&acts), vec![vec!["en/callback_booked"]]);
    let acts = c.finish();
    assert_eq!(
        effects(&acts),
        vec![Action::Hangup {
            cause: HangupCause::Dialplan {
                reason: Some("callback".into())
            }
        }]
    );
}

#[test]
fn declined_or_unanswered_callback_keeps_the_caller_waiting() {
    let mut c = Call::new(&plan_text("cb", false, CALLBACK));
    c.start();
    let acts = c.digit('2');
    assert!(events(&acts).contains(&IvrEventKind::CallbackDeclined));
    assert_eq!(enqueued(&acts).unwrap().queue, "hardware");

    let mut c = Call::new(&plan_text("cb", false, CALLBACK));
    c.start();
    c.finish();
    assert_eq!(c.timer_secs(), Some(4));
    let acts = c.expire();
    assert!(events(&acts).contains(&IvrEventKind::CallbackDeclined));
    assert!(enqueued(&acts).is_some());
}

const VOICEMAIL: &str = r#"
[nodes.vm]
kind = "voicemail"
prompt = "leave_message"
max_secs = 60
"#;

#[test]
fn voicemail_records_after_the_prompt_and_hangs_up() {
    let mut c = Call::new(&plan_text("vm", false, VOICEMAIL));
    let acts = c.start();
    assert!(matches!(
        acts.last(),
        Some(Action::Play {
            barge_in: false,
            ..
        })
    ));
    let acts = c.finish();
    assert_eq!(
        effects(&acts),
        vec![Action::RecordVoicemail {
            max_secs: 60,
            ticket: None
        }]
    );
    assert_eq!(effects(&c.digit('#')), vec![Action::StopRecording]);
    let acts = c.send(Input::RecordingFinished);
    assert!(events(&acts).contains(&IvrEventKind::VoicemailRecorded));
    assert_eq!(
        effects(&acts),
        vec![Action::Hangup {
            cause: HangupCause::AfterVoicemail
        }]
    );
}

#[test]
fn voicemail_that_never_finishes_is_stopped_by_the_session() {
    let mut c = Call::new(&plan_text("vm", false, VOICEMAIL));
    c.start();
    c.finish();
    assert_eq!(c.timer_secs(), Some(65));
    let acts = c.expire();
    assert_eq!(
        effects(&acts),
        vec![
            Action::StopRecording,
            Action::Hangup {
                cause: HangupCause::AfterVoicemail
            }
        ]
    );
}

const SURVEY: &str = r#"
[nodes.q]
kind = "enqueue"
queue = "tickets"

[nodes.survey]
kind = "survey"
prompt = "survey"
timeout_secs = 6
retries = 1
invalid_prompt = "survey_invalid"
"#;

#[test]
fn survey_after_the_agent_hangs_up_stores_the_score() {
    let mut c = Call::new(&plan_text("q", true, SURVEY));
    c.start();
    assert!(
        c.digit('3').is_empty(),
        "digits while with the agent are not survey answers"
    );
    let acts = c.send(Input::AgentHungUp);
    assert_eq!(plays(&acts), vec![vec!["en/survey"]]);
    let acts = c.digit('9');
    assert_eq!(plays(&acts), vec![vec!["en/survey_invalid", "en/survey"]]);
    let acts = c.digit('4');
    assert_eq!(
        effects(&acts),
        vec![
            Action::StopPlayback,
            Action::SurveyResult {
                score: 4,
                ticket: None
            },
            Action::Hangup {
                cause: HangupCause::AfterSurvey
            }
        ]
    );
}

#[test]
fn unanswered_survey_is_skipped_and_no_survey_means_plain_hangup() {
    let mut c = Call::new(&plan_text("q", true, SURVEY));
    c.start();
    c.send(Input::AgentHungUp);
    c.finish();
    c.expire();
    c.finish();
    let acts = c.expire();
    assert!(events(&acts).contains(&IvrEventKind::SurveySkipped));
    assert_eq!(
        effects(&acts),
        vec![Action::Hangup {
            cause: HangupCause::AfterSurvey
        }]
    );

    let nodes = "[nodes.q]\nkind = \"enqueue\"\nqueue = \"tickets\"\n";
    let mut c = Call::new(&plan_text("q", false, nodes));
    c.start();
    let acts = c.send(Input::AgentHungUp);
    assert_eq!(
        effects(&acts),
        vec![Action::Hangup {
            cause: HangupCause::CallEnded
        }]
    );
}

#[test]
fn a_called_back_caller_gets_the_survey_after_the_agent() {
    let nodes = format!(
        "{CALLBACK}\n{}",
        SURVEY.replace("[nodes.q]\nkind = \"enqueue\"\nqueue = \"tickets\"\n", "")
    );
    let mut c = Call::new(&plan_text("cb", true, &nodes));
    c.start();
    c.digit('1');
    c.finish();
    assert!(c.s.is_finished(), "hung up after the booking prompt");
    assert!(
        c.send(Input::AgentHungUp).is_empty(),
        "a finished session does nothing for an agent"
    );
    c.s.resume_queued();
    assert!(c.s.is_enqueued());
    assert_eq!(c.s.next_deadline(), None);
    let acts = c.send(Input::AgentHungUp);
    assert_eq!(plays(&acts), vec![vec!["en/survey"]]);
}
