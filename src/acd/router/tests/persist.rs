use super::*;
use crate::acd::config::load_str;
use crate::acd::router::AgentStateRecord;

const AGENTS: &str = r#"
[[agents]]
id = "ann"
skills = { hardware = 3 }
[[agents]]
id = "bob"
skills = { hardware = 1 }
[[agents]]
id = "cat"
skills = { network = 2 }
[[agents]]
id = "dan"
skills = { network = 3 }
"#;

fn queues(net_level: u8) -> String {
    format!(
        r#"{SKILLS}
[[queues]]
name = "hw"
required = {{ hardware = 2 }}
[[queues]]
name = "net"
required = {{ network = {net_level} }}
"#
    )
}

#[test]
fn snapshot_shows_queues_agents_and_calls_as_json() {
    let mut h = H::new(&queues(3), AGENTS);
    h.login("ann");
    h.enqueue("c1", "hw");
    h.now = 1000;
    h.enqueue("c2", "net");
    h.now = 4000;
    let s = h.r.snapshot(h.now);
    let net = s.queues.iter().find(|q| q.name == "net").unwrap();
    assert_eq!(
        (net.waiting, net.head_wait_ms, net.logged_in),
        (1, Some(3000), 0)
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["agents"][0]["state"], "ringing");
    assert_eq!(json["agents"][0]["call"], "c1");
    let calls = h.r.calls_snapshot(h.now, None, 10);
    assert_eq!(calls[0].id.as_str(), "c2");
    assert_eq!(calls[0].position, Some(1));
    assert_eq!(calls[1].state, "ringing");
}

#[test]
fn agent_states_survive_a_restart() {
    let mut h = H::new(&queues(2), AGENTS);
    h.login("ann");
    h.login("bob");
    h.input(Input::AgentNotReady {
        agent: "bob".into(),
        reason: "lunch".into(),
    });
    h.login("cat");
    h.enqueue("c1", "net");
    h.answer("c1", "cat");
    let saved: Vec<AgentStateRecord> = h.r.agent_states();
    let json = serde_json::to_string(&saved).unwrap();

    // new process
    let mut h2 = H::new(&queues(2), AGENTS);
    h2.now = 500;
    let restored: Vec<AgentStateRecord> = serde_json::from_str(&json).unwrap();
    assert!(h2.r.restore(500, &restored).is_empty());
    assert_eq!(
        h2.status("bob"),
        (AgentStatus::NotReady, Some("lunch".into()))
    );
    assert_eq!(h2.status("ann").0, AgentStatus::Available);
    assert_eq!(
        h2.status("cat"),
        (AgentStatus::NotReady, Some("restart".into()))
    );
    let acts = h2.enqueue("c9", "hw");
    assert!(
        offers(&acts).is_empty(),
        "ann's phone has not re-registered yet"
    );
    let acts = h2.input(Input::AgentConnected {
        agent: "ann".into(),
    });
    assert_eq!(one_offer(&acts), ("c9".into(), "ann".into()));
    h2.at(30_000);
    assert_eq!(
        h2.status("bob"),
        (AgentStatus::NotReady, Some("disconnected".into())),
        "never came back"
    );
}

#[test]
fn reload_keeps_places_and_states_and_applies_new_skills() {
    let mut h = H::new(&queues(3), AGENTS);
    h.login("cat");
    h.login("bob");
    h.input(Input::AgentNotReady {
        agent: "bob".into(),
        reason: "lunch".into(),
    });
    h.enqueue("n1", "net");
    h.now = 1000;
    h.enqueue("n2", "net");
    assert_eq!(h.r.waiting_count(), 2, "cat has network 2 < 3");
    let new = load_str(
        "queues.toml",
        &queues(2),
        Some((std::path::Path::new("agents.toml"), AGENTS)),
    )
    .unwrap();
    h.now = 2000;
    h.r.reload(h.now, new.config).unwrap();
    let acts: Vec<Action> = h.r.drain_actions().collect();
    assert_eq!(
        one_offer(&acts),
        ("n1".into(), "cat".into()),
        "first in line first"
    );
    assert_eq!(
        h.status("bob"),
        (AgentStatus::NotReady, Some("lunch".into()))
    );
    let calls = h.r.calls_snapshot(h.now, Some("net"), 10);
    assert_eq!(
        calls
            .iter()
            .find(|c| c.id.as_str() == "n2")
            .unwrap()
            .position,
        Some(1)
    );
    h.answer("n1", "cat");
}

#[test]
fn reload_that_drops_a_queue_with_callers_is_refused() {
    let mut h = H::new(&queues(3), AGENTS);
    h.enqueue("n1", "net");
    let only_hw = format!("{SKILLS}\n[[queues]]\nname = \"hw\"\nrequired = {{ hardware = 2 }}\n");
    let new = load_str("queues.toml", &only_hw, None).unwrap();
    let err = h.r.reload(0, new.config).unwrap_err();
    assert!(
        err.to_string().contains("queue `net` still has callers"),
        "{err}"
    );
    assert_eq!(h.r.waiting_count(), 1);
}
