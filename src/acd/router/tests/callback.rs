use super::*;

fn desk() -> H {
    let queues = format!(
        r#"{SKILLS}
[settings]
callback_allowed_prefixes = ["+1555"]

[[queues]]
name = "q"
required = {{ hardware = 1 }}
callback = {{ max_attempts = 2, retry_after_s = 120, dial_timeout_s = 30, offer_when_ewt_over_s = 100 }}
expected_aht_s = 300
announce_every_s = 30
"#
    );
    let agents = r#"
[[agents]]
id = "ann"
skills = { hardware = 1 }
"#;
    H::new(&queues, agents)
}

fn dial(acts: &[Action]) -> Option<(String, String, String, u32)> {
    acts.iter().find_map(|a| match a {
        Action::DialCallback {
            call,
            agent,
            number,
            attempt,
            ..
        } => Some((
            call.to_string(),
            agent.to_string(),
            number.clone(),
            *attempt,
        )),
        _ => None,
    })
}

/// ann busy with "x"; c1 then c2 wait; c1 asks for a callback.
fn setup() -> H {
    let mut h = desk();
    h.login("ann");
    h.enqueue("x", "q");
    h.answer("x", "ann");
    h.now = 1000;
    h.enqueue("c1", "q");
    h.now = 2000;
    h.enqueue("c2", "q");
    h.now = 3000;
    let acts = h.input(Input::CallbackRequested {
        call: "c1".into(),
        number: "+15550100".into(),
    });
    assert_eq!(
        acts,
        vec![Action::CallbackBooked {
            call: "c1".into(),
            number: "+15550100".into()
        }],
        "the caller is told it is booked, and nothing else happens yet"
    );
    h
}

#[test]
fn callback_keeps_the_place_and_reserves_an_agent_to_dial() {
    let mut h = setup();
    h.now = 50_000;
    let acts = h.end("x");
    assert_eq!(
        dial(&acts),
        Some(("c1".into(), "ann".into(), "+15550100".into(), 1))
    );
    assert_eq!(
        h.status("ann"),
        (AgentStatus::Reserved, Some("callback".into()))
    );
    assert!(offers(&acts).is_empty(), "c2 is behind the virtual caller");
    // The customer answered: the reserved agent is offered the call like any other.
    let acts = h.input(Input::CallbackResult {
        call: "c1".into(),
        answered: true,
    });
    assert_eq!(one_offer(&acts), ("c1".into(), "ann".into()));
    assert_eq!(h.status("ann").0, AgentStatus::Ringing);
    h.answer("c1", "ann");
    assert_eq!(h.status("ann").0, AgentStatus::OnCall);
    let acts = h.end("c1");
    assert_eq!(one_offer(&acts), ("c2".into(), "ann".into()));
}

#[test]
fn callback_retries_on_no_answer_then_gives_up() {
    let mut h = setup();
    h.now = 50_000;
    h.end("x");
    // no result within the 30 s dial timeout counts as no answer: ann takes c2
    let acts = h.at(80_000);
    assert_eq!(one_offer(&acts), ("c2".into(), "ann".into()));
    h.answer("c2", "ann");
    h.now = 100_000;
    h.end("c2");
    assert_eq!(
        h.status("ann").0,
        AgentStatus::Available,
        "retry not due before 200 s"
    );
    let acts = h.at(200_000);
    assert_eq!(dial(&acts).map(|d| d.3), Some(2));
    let acts = h.input(Input::CallbackResult {
        call: "c1".into(),
        answered: false,
    });
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::CallbackFailed { attempts: 2, .. })));
    assert_eq!(h.status("ann").0, AgentStatus::Available);
    assert_eq!(h.r.waiting_count(), 0);
}

#[test]
fn callback_is_offered_when_the_wait_is_long_and_numbers_are_checked() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("x", "q");
    h.answer("x", "ann");
    // position 1: 300 s / 1 agent > 100 s threshold
    let acts = h.enqueue("c1", "q");
    assert!(acts.iter().any(|a| matches!(a, Action::OfferCallback { call, ewt_ms: Some(300_000) } if call.as_str() == "c1")));
    let acts = h.input(Input::CallbackRequested {
        call: "c1".into(),
        number: "+33123456".into(),
    });
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::CallbackRefused { .. })));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::CallbackBooked { .. })),
        "a refused number is not booked"
    );
    assert!(
        h.at(31_000)
            .iter()
            .any(|a| matches!(a, Action::Announce { .. })),
        "still a live caller"
    );
}

#[test]
fn a_web_callback_request_queues_a_virtual_caller() {
    let mut h = desk();
    let acts = h.queue(QueuedCall {
        callback_number: Some("+15550123".into()),
        ..call("web1", "q")
    });
    assert_eq!(
        acts,
        vec![Action::CallbackBooked {
            call: "web1".into(),
            number: "+15550123".into()
        }]
    );
    let acts = h.login("ann");
    assert_eq!(dial(&acts).map(|d| d.2), Some("+15550123".into()));
    let refused = h.queue(QueuedCall {
        callback_number: Some("call me".into()),
        ..call("web2", "q")
    });
    assert!(refused
        .iter()
        .any(|a| matches!(a, Action::CallbackRefused { .. })));
}

#[test]
fn the_dial_carries_the_queue_dial_timeout() {
    let mut h = setup();
    h.now = 50_000;
    let acts = h.end("x");
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::DialCallback {
            ring_ms: 30_000,
            ..
        }
    )));
}

#[test]
fn an_unanswered_offer_of_the_called_back_customer_keeps_them_in_front() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("x", "q");
    h.answer("x", "ann");
    h.now = 1000;
    h.enqueue("c1", "q");
    h.input(Input::CallbackRequested {
        call: "c1".into(),
        number: "+15550100".into(),
    });
    h.now = 2000;
    h.enqueue("c2", "q");
    h.now = 10_000;
    h.end("x");
    h.input(Input::CallbackResult {
        call: "c1".into(),
        answered: true,
    });
    // ann's phone is not answered within the queue's ring time (RONA, default 15 s)
    let acts = h.at(40_000);
    assert_eq!(stops(&acts), vec![("c1".into(), "ann".into())]);
    assert_eq!(
        h.status("ann"),
        (AgentStatus::NotReady, Some("missed".into()))
    );
    assert_eq!(
        h.r.waiting_count(),
        2,
        "the customer, now on the line, waits again"
    );
    assert!(
        dial(&acts).is_none(),
        "a customer on the line is not dialled again"
    );
    let snap = h.r.calls_snapshot(h.now, None, 10);
    let first = snap.first().expect("calls");
    assert_eq!(
        (first.id.as_str(), first.position, first.callback),
        ("c1", Some(1), false),
        "c1 keeps its place ahead of c2, as a live caller"
    );
    let acts = h.input(Input::AgentReady {
        agent: "ann".into(),
    });
    assert_eq!(one_offer(&acts), ("c1".into(), "ann".into()));
}

fn desk_with(settings: &str) -> H {
    let queues = format!(
        r#"{SKILLS}
[settings]
{settings}

[[queues]]
name = "q"
required = {{ hardware = 1 }}
callback = {{ max_attempts = 2, retry_after_s = 120, dial_timeout_s = 30, offer_when_ewt_over_s = 100 }}
expected_aht_s = 300
"#
    );
    H::new(
        &queues,
        "[[agents]]\nid = \"ann\"\nskills = { hardware = 1 }\n",
    )
}

fn web_callback(h: &mut H, id: &str, number: &str) -> Result<(), String> {
    let acts = h.queue(QueuedCall {
        callback_number: Some(number.into()),
        ..call(id, "q")
    });
    acts.iter()
        .find_map(|a| match a {
            Action::CallbackBooked { .. } => Some(Ok(())),
            Action::CallbackRefused { reason, .. } => Some(Err(reason.clone())),
            _ => None,
        })
        .unwrap_or_else(|| Err(format!("neither booked nor refused: {acts:?}")))
}

#[test]
fn premium_rate_and_caribbean_numbers_are_refused_under_a_plus_one_allow_list() {
    let mut h = desk_with(r#"callback_allowed_prefixes = ["+1", "1", "+44"]"#);
    for (i, n) in [
        "+18765550100",  // Jamaica
        "+12845550100",  // British Virgin Islands
        "+18095550100",  // Dominican Republic
        "+19005550100",  // NANP premium
        "18765550100",   // without the plus
        "+449065550100", // UK premium
    ]
    .iter()
    .enumerate()
    {
        let r = web_callback(&mut h, &format!("p{i}"), n);
        assert!(
            r.as_ref()
                .is_err_and(|e| e.contains("callback_denied_prefixes")),
            "{n}: {r:?}"
        );
    }
    assert_eq!(web_callback(&mut h, "ok", "+12125550100"), Ok(()));
}

#[test]
fn the_deny_list_can_be_replaced() {
    let mut h = desk_with(r#"callback_denied_prefixes = ["+1212"]"#);
    assert_eq!(web_callback(&mut h, "a", "+18765550100"), Ok(()));
    assert!(web_callback(&mut h, "b", "+12125550100").is_err());
}

#[test]
fn callbacks_per_number_and_per_hour_are_capped() {
    let mut h = desk_with("callback_max_per_number = 2\ncallback_max_per_hour = 3");
    h.now = 1_000;
    assert_eq!(web_callback(&mut h, "a1", "+15550001"), Ok(()));
    assert_eq!(web_callback(&mut h, "a2", "+15550001"), Ok(()));
    let r = web_callback(&mut h, "a3", "+15550001");
    assert!(
        r.as_ref()
            .is_err_and(|e| e.contains("callback_max_per_number")),
        "{r:?}"
    );
    assert_eq!(web_callback(&mut h, "b1", "+15550002"), Ok(()));
    let r = web_callback(&mut h, "b2", "+15550003");
    assert!(
        r.as_ref()
            .is_err_and(|e| e.contains("callback_max_per_hour")),
        "{r:?}"
    );
    // An hour later the hourly cap has room again; the per-number cap holds for 24 hours.
    h.now = 1_000 + 3_600_000;
    assert_eq!(web_callback(&mut h, "b3", "+15550003"), Ok(()));
    assert!(web_callback(&mut h, "a4", "+15550001").is_err());
    h.now = 1_000 + 24 * 3_600_000;
    assert_eq!(web_callback(&mut h, "a5", "+15550001"), Ok(()));
}

#[test]
fn deny_list_matching_is_by_prefix_with_or_without_plus() {
    use crate::acd::router::callbacks::denied_prefix;
    let list: Vec<String> = crate::acd::config::DEFAULT_CALLBACK_DENIED
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(denied_prefix("+18765550100", &list), Some("+1876"));
    assert_eq!(denied_prefix("12685550100", &list), Some("+1268"));
    assert_eq!(denied_prefix("09065550100", &list), Some("09"));
    assert_eq!(denied_prefix("+447012345678", &list), Some("+4470"));
    assert_eq!(denied_prefix("+12125550100", &list), None);
    assert_eq!(denied_prefix("+442079460000", &list), None);
    assert_eq!(denied_prefix("+15550100", &list), None);
}
