use super::*;

fn with_strategy(strategy: &str) -> H {
    let queues = format!(
        r#"{SKILLS}
[[queues]]
name = "q"
strategy = "{strategy}"
required = {{ hardware = 1 }}
ring_all_max = 5

[[queues]]
name = "pen"
membership = "explicit"
"#
    );
    let agents = r#"
[[agents]]
id = "a1"
skills = { hardware = 2 }
queues = { pen = 1 }
[[agents]]
id = "a2"
skills = { hardware = 5 }
queues = { pen = 0 }
[[agents]]
id = "a3"
skills = { hardware = 3, network = 1 }
queues = { pen = 2 }
"#;
    H::new(&queues, agents)
}

/// Log in a1, a2, a3 at 0, 1 s, 2 s.
fn all_in(h: &mut H) {
    for (i, a) in ["a1", "a2", "a3"].iter().enumerate() {
        h.now = i as u64 * 1000;
        h.login(a);
    }
    h.now = 10_000;
}

/// Serve one call, returning the agent it was offered to; they answer and hang up.
fn serve(h: &mut H, id: &str) -> String {
    let acts = h.enqueue(id, "q");
    let (_, agent) = one_offer(&acts);
    h.answer(id, &agent);
    h.now += 1000;
    h.end(id);
    h.now += 1000;
    agent
}

#[test]
fn longest_idle_takes_the_agent_idle_longest() {
    let mut h = with_strategy("longest-idle");
    all_in(&mut h);
    let order: Vec<String> = (0..4).map(|i| serve(&mut h, &format!("c{i}"))).collect();
    assert_eq!(order, ["a1", "a2", "a3", "a1"]);
}

#[test]
fn round_robin_goes_around_the_roster() {
    let mut h = with_strategy("round-robin");
    all_in(&mut h);
    let order: Vec<String> = (0..5).map(|i| serve(&mut h, &format!("c{i}"))).collect();
    assert_eq!(order, ["a2", "a3", "a1", "a2", "a3"]);
}

#[test]
fn fewest_calls_balances_answered_calls() {
    let mut h = with_strategy("fewest-calls");
    all_in(&mut h);
    let first = serve(&mut h, "c0");
    assert_eq!(first, "a1");
    // a1 answered one call; the others none: a2 (idle longer than a3) is next, then a3.
    assert_eq!(serve(&mut h, "c1"), "a2");
    assert_eq!(serve(&mut h, "c2"), "a3");
}

#[test]
fn best_skill_takes_the_most_proficient() {
    let mut h = with_strategy("best-skill");
    all_in(&mut h);
    assert_eq!(serve(&mut h, "c0"), "a2");
    // a2 busy on the next one: a3 (hardware 3) beats a1 (hardware 2)
    let acts = h.enqueue("c1", "q");
    assert_eq!(one_offer(&acts).1, "a2");
    let acts = h.enqueue("c2", "q");
    assert_eq!(one_offer(&acts).1, "a3");
}

#[test]
fn ring_all_rings_every_free_agent_and_the_first_answer_wins() {
    let mut h = with_strategy("ring-all");
    all_in(&mut h);
    let acts = h.enqueue("c1", "q");
    let o = offers(&acts);
    assert_eq!(
        o,
        vec![(
            "c1".to_string(),
            vec!["a1".to_string(), "a2".into(), "a3".into()]
        )]
    );
    let acts = h.answer("c1", "a3");
    let mut s = stops(&acts);
    s.sort();
    assert_eq!(
        s,
        vec![("c1".into(), "a1".into()), ("c1".into(), "a2".into())]
    );
    assert_eq!(h.status("a1").0, AgentStatus::Available);
    assert_eq!(h.status("a3").0, AgentStatus::OnCall);
}

#[test]
fn lower_penalty_wins_over_longer_idle() {
    let mut h = with_strategy("longest-idle");
    all_in(&mut h);
    let acts = h.enqueue("p1", "pen");
    assert_eq!(
        one_offer(&acts).1,
        "a2",
        "penalty 0 beats a1 idle longer at penalty 1"
    );
    let acts = h.enqueue("p2", "pen");
    assert_eq!(one_offer(&acts).1, "a1");
}
