use super::*;
use crate::acd::router::TicketInfo;

fn desk() -> H {
    let queues = format!(
        r#"{SKILLS}
[settings]
ticket_priority_boost = 1
sla_breach_boost = 5

[[queues]]
name = "q"
required = {{ hardware = 1 }}
ticket_owner_first_s = 60
"#
    );
    let agents = r#"
[[agents]]
id = "owner"
skills = { hardware = 1 }
[[agents]]
id = "other"
skills = { hardware = 5 }
"#;
    H::new(&queues, agents)
}

fn ticket_call(id: &str, owner: &str) -> QueuedCall {
    QueuedCall {
        ticket: Some(TicketInfo {
            owner: Some(owner.into()),
            priority: 0,
            sla_breached: false,
        }),
        ..call(id, "q")
    }
}

#[test]
fn ticket_owner_is_offered_first_even_if_others_are_idle_longer() {
    let mut h = desk();
    h.login("other");
    h.now = 5000;
    h.login("owner");
    h.now = 10_000;
    let acts = h.queue(ticket_call("c1", "owner"));
    let (c, a) = one_offer(&acts);
    assert_eq!((c.as_str(), a.as_str()), ("c1", "owner"));
    let Some(Action::Offer { explanation, .. }) =
        acts.iter().find(|x| matches!(x, Action::Offer { .. }))
    else {
        panic!()
    };
    assert!(explanation.rule.starts_with("ticket-owner"));
}

#[test]
fn busy_owner_gets_the_window_then_anyone_qualified() {
    let mut h = desk();
    h.login("owner");
    h.enqueue("x", "q");
    h.answer("x", "owner");
    h.login("other");
    h.enqueue("y", "q");
    h.answer("y", "other");
    h.now = 1000;
    h.queue(ticket_call("c1", "owner"));
    h.now = 2000;
    h.end("y");
    assert_eq!(
        h.status("other").0,
        AgentStatus::Available,
        "c1 waits for its owner"
    );
    assert!(offers(&h.at(60_999)).is_empty());
    let acts = h.at(61_000);
    assert_eq!(one_offer(&acts), ("c1".into(), "other".into()));
}

#[test]
fn owner_logged_out_means_anyone_at_once() {
    let mut h = desk();
    h.login("other");
    let acts = h.queue(ticket_call("c1", "owner"));
    assert_eq!(one_offer(&acts), ("c1".into(), "other".into()));
}

#[test]
fn ticket_priority_and_breached_sla_raise_call_priority() {
    let mut h = desk();
    h.enqueue("plain", "q");
    h.now = 1000;
    h.queue(QueuedCall {
        ticket: Some(TicketInfo {
            owner: None,
            priority: 2,
            sla_breached: false,
        }),
        ..call("urgent", "q")
    });
    h.now = 2000;
    h.queue(QueuedCall {
        ticket: Some(TicketInfo {
            owner: None,
            priority: 0,
            sla_breached: true,
        }),
        ..call("breached", "q")
    });
    h.now = 3000;
    let acts = h.login("other");
    assert_eq!(one_offer(&acts).0, "breached", "+5 beats +2");
    h.answer("breached", "other");
    let acts = h.login("owner");
    assert_eq!(one_offer(&acts).0, "urgent");
}
