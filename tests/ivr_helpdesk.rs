//! The sample IT help desk (`dialplans/helpdesk.toml`) walked end to end through the public
//! engine API, the way the call layer drives it: digits, prompt ends, timeouts, CRM answers.

use chrono::{DateTime, TimeZone, Utc};
use helpline::ivr::check::CheckContext;
use helpline::ivr::crm::{
    CallerFacts, CrmLookup, FixtureCrm, LookupResult, TicketFact, TicketPriority,
};
use helpline::ivr::engine::{
    Action, CallContext, CrmState, HangupCause, Input, IvrEventKind, Now, QueueRequest, Session,
};
use helpline::ivr::pattern::AllowList;
use helpline::ivr::prompts::PromptSet;
use helpline::ivr::set::DialplanSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn sample() -> DialplanSet {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let prompts = PromptSet::from_prompts_txt(
        &std::fs::read_to_string(root.join("dialplans/prompts/prompts.tsv")).unwrap(),
        &["en", "es"],
    );
    let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    let cx = CheckContext {
        prompts: &prompts,
        // The broken fixtures' own names, plus those of config/queues.toml the sample uses.
        queues: names(&[
            "password",
            "hardware",
            "network",
            "tickets",
            "emergency",
            "emergencies",
            "tier2",
        ]),
        skills: names(&[
            "password", "hardware", "network", "english", "spanish", "tier1", "tier2", "accounts",
            "security",
        ]),
        transfer_allow: AllowList::parse(&["+4420794609XX"]).unwrap(),
    };
    DialplanSet::load(&root.join("dialplans"), &cx, 1).unwrap()
}

fn crm() -> FixtureCrm {
    let mut crm = FixtureCrm::default();
    crm.callers.insert(
        "+447700900001".into(),
        CallerFacts {
            contact_id: "c-vip".into(),
            vip: true,
            open_ticket: None,
        },
    );
    crm.tickets.insert(
        "482913".into(),
        TicketFact {
            id: "482913".into(),
            priority: TicketPriority::High,
        },
    );
    crm.tickets.insert(
        "300100".into(),
        TicketFact {
            id: "300100".into(),
            priority: TicketPriority::Low,
        },
    );
    crm
}

/// Monday 2025-07-07 10:00 in London.
fn open_hours() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 7, 9, 0, 0).unwrap()
}

/// A call layer stand-in: performs lookups against the fixture CRM at once, records everything.
struct Caller {
    s: Session,
    crm: FixtureCrm,
    clock: Instant,
    wall: DateTime<Utc>,
    log: Vec<Action>,
}

impl Caller {
    fn dial(number: &str, from: &str, wall: DateTime<Utc>) -> Caller {
        let route = sample().route(number).expect("routed");
        let ctx = CallContext {
            caller: from.into(),
            called: number.into(),
            crm: CrmState::NotAsked,
        };
        let mut c = Caller {
            s: Session::from_route(route, ctx).unwrap(),
            crm: crm(),
            clock: Instant::now(),
            wall,
            log: vec![],
        };
        c.send(Input::Started);
        c
    }

    fn send(&mut self, input: Input) {
        let acts = self.s.handle(
            input,
            Now {
                at: self.clock,
                wall: self.wall,
            },
        );
        self.log.extend(acts.iter().cloned());
        for a in acts {
            if let Action::Lookup { kind, value } = a {
                let answer = self.crm.lookup(kind, &value);
                self.send(Input::LookupResult(LookupResult {
                    kind,
                    value,
                    answer,
                }));
            }
        }
    }

    /// The prompt playing now ends.
    fn hear_out(&mut self) {
        let id = self.log.iter().rev().find_map(|a| match a {
            Action::Play { id, .. } => Some(*id),
            _ => None,
        });
        self.send(Input::PromptFinished(id.expect("a prompt played")));
    }

    fn press(&mut self, digits: &str) {
        for d in digits.chars() {
            self.send(Input::Digit(d));
        }
    }

    fn wait_out(&mut self) {
        let deadline = self.s.next_deadline().expect("a timer runs");
        self.clock = self.clock.max(deadline) + Duration::from_millis(1);
        self.send(Input::Timeout);
    }

    fn heard(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Play { prompts, .. } => Some(
                    prompts
                        .iter()
                        .map(|p| format!("{}/{}", p.lang, p.name))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn queued(&self) -> QueueRequest {
        self.log
            .iter()
            .find_map(|a| match a {
                Action::Enqueue(r) => Some(r.clone()),
                _ => None,
            })
            .expect("enqueued")
    }

    fn saw(&self, kind: &IvrEventKind) -> bool {
        self.log
            .iter()
            .any(|a| matches!(a, Action::Event(e) if &e.kind == kind))
    }

    fn path(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Event(e) if matches!(e.kind, IvrEventKind::NodeEntered { .. }) => {
                    Some(e.node.clone())
                }
                _ => None,
            })
            .collect()
    }
}

fn skills(r: &QueueRequest) -> Vec<String> {
    r.skills.keys().cloned().collect()
}

#[test]
fn spanish_network_outage_lands_in_the_network_queue_in_spanish() {
    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("2");
    assert!(
        c.heard().contains(&"es/main_menu".to_string()),
        "{:?}",
        c.heard()
    );
    c.press("3");
    c.hear_out();
    let q = c.queued();
    assert_eq!(
        (q.queue.as_str(), q.priority, q.language.as_str()),
        ("network", 5, "es")
    );
    assert_eq!(skills(&q), vec!["network", "spanish"]);
    assert_eq!(
        q.vars.get("ivr_choice").map(String::as_str),
        Some("network")
    );
    let heard = c.heard();
    assert_eq!(
        &heard[..3],
        ["en/welcome", "en/press1_english", "es/press2_spanish"]
    );
    assert!(heard[3..].iter().all(|p| p.starts_with("es/")), "{heard:?}");
    assert_eq!(
        c.path(),
        [
            "welcome",
            "lang_es",
            "check_hours",
            "check_vip",
            "main_menu",
            "network",
            "network_info",
            "network_queue"
        ]
    );
}

#[test]
fn invalid_digits_get_the_retry_prompt_then_the_fallback_queue() {
    let mut c = Caller::dial("+18005550100", "+447700900123", open_hours());
    c.press("1");
    for _ in 0..3 {
        c.hear_out();
        c.press("7");
    }
    assert_eq!(
        c.heard()
            .iter()
            .filter(|p| *p == "en/invalid_option")
            .count(),
        2
    );
    assert!(c.saw(&IvrEventKind::Fallback {
        to: "general".into()
    }));
    let q = c.queued();
    assert_eq!(q.queue, "hardware");
    assert!(q.tags.contains(&"ivr_choice:none".to_string()));
}

#[test]
fn no_input_at_the_language_menu_goes_on_in_english() {
    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.hear_out();
    c.wait_out();
    assert!(c.heard().contains(&"en/no_input".to_string()));
    c.hear_out();
    c.wait_out();
    assert!(c.saw(&IvrEventKind::Fallback {
        to: "lang_en".into()
    }));
    assert!(c.heard().contains(&"en/main_menu".to_string()));
}

#[test]
fn existing_ticket_number_tags_the_call_and_high_priority_jumps_the_queue() {
    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("1");
    c.press("4");
    c.press("482913#");
    let q = c.queued();
    assert_eq!(
        (q.queue.as_str(), q.priority, q.ticket.as_deref()),
        ("tier2", 6, Some("482913"))
    );
    assert!(q.tags.contains(&"ticket:482913".to_string()));
    assert!(skills(&q).contains(&"tier2".to_string()));

    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("1");
    c.press("4");
    c.press("300100#");
    c.press("2"); // decline the callback offer for a low-priority ticket
    let q = c.queued();
    assert_eq!((q.priority, q.ticket.as_deref()), (0, Some("300100")));
}

#[test]
fn unknown_ticket_is_told_and_returns_to_the_main_menu() {
    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("14");
    c.press("777777#");
    assert!(c.heard().contains(&"en/ticket_not_found".to_string()));
    c.hear_out();
    assert_eq!(c.s.current_node(), Some("main_menu"));
}

#[test]
fn emergency_gets_top_priority_and_vip_callers_a_boost() {
    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("19");
    let q = c.queued();
    assert_eq!((q.queue.as_str(), q.priority), ("emergencies", 10));

    let mut c = Caller::dial("+442079460000", "+447700900001", open_hours());
    c.press("12");
    c.press("2");
    let q = c.queued();
    assert_eq!((q.queue.as_str(), q.priority), ("hardware", 3));
    assert!(q.tags.contains(&"vip".to_string()));
}

#[test]
fn out_of_hours_callers_hear_closed_and_can_leave_a_voicemail() {
    let saturday = Utc.with_ymd_and_hms(2025, 7, 5, 11, 0, 0).unwrap();
    let mut c = Caller::dial("+442079460000", "+447700900123", saturday);
    c.press("1");
    assert!(c.heard().contains(&"en/closed".to_string()));
    c.hear_out();
    c.hear_out();
    c.wait_out();
    c.hear_out();
    c.wait_out();
    assert!(c.heard().contains(&"en/leave_message".to_string()));
    c.hear_out();
    assert!(c.log.contains(&Action::RecordVoicemail {
        max_secs: 120,
        ticket: None
    }));
    c.send(Input::RecordingFinished);
    c.hear_out();
    assert_eq!(
        c.log.last(),
        Some(&Action::Hangup {
            cause: HangupCause::Dialplan {
                reason: Some("voicemail".into())
            }
        })
    );

    let christmas = Utc.with_ymd_and_hms(2025, 12, 25, 10, 0, 0).unwrap();
    let mut c = Caller::dial("+442079460000", "+447700900123", christmas);
    c.press("2");
    assert!(c.heard().contains(&"es/closed_holiday".to_string()));
    c.press("8"); // barge in, type ahead into the closed menu: building security
    assert!(c.log.contains(&Action::Transfer {
        number: "+442079460999".into()
    }));
}

#[test]
fn callback_and_survey() {
    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("11");
    c.press("1");
    let cb = c.log.iter().find_map(|a| match a {
        Action::CallbackRequested(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(
        cb.map(|r| (r.queue, r.caller)),
        Some(("password".into(), "+447700900123".into()))
    );

    let mut c = Caller::dial("+442079460000", "+447700900123", open_hours());
    c.press("12");
    c.hear_out();
    c.wait_out(); // no answer to the callback offer: keep waiting
    assert_eq!(c.queued().queue, "hardware");
    c.send(Input::AgentHungUp);
    c.press("5");
    assert!(c.log.contains(&Action::SurveyResult {
        score: 5,
        ticket: None
    }));
    c.hear_out();
    assert_eq!(
        c.log.last(),
        Some(&Action::Hangup {
            cause: HangupCause::Dialplan {
                reason: Some("survey".into())
            }
        })
    );
}
