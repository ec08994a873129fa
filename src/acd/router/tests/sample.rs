//! The sample help-desk configuration (config/*.toml) routes as its comments promise.
use super::*;
use crate::acd::config::load_files;

fn sample() -> H {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let loaded = load_files(&dir.join("queues.toml"), Some(&dir.join("agents.toml")))
        .expect("sample config");
    let mut h = H {
        r: Router::new(loaded.config),
        now: 0,
    };
    for a in [
        "alice", "bruno", "chen", "dana", "emil", "fatima", "gus", "hana", "ivan", "jade", "kofi",
        "lena",
    ] {
        h.login(a);
        h.now += 1000;
    }
    h
}

#[test]
fn spanish_password_caller_reaches_a_spanish_speaker_with_account_skills() {
    let mut h = sample();
    let acts = h.enqueue("c1", "password-es");
    let (_, agent) = one_offer(&acts);
    assert!(["bruno", "dana"].contains(&agent.as_str()), "{agent}");
}

#[test]
fn emergencies_ring_every_qualified_agent() {
    let mut h = sample();
    let acts = h.enqueue("outage", "emergencies");
    let o = offers(&acts);
    let mut agents = o[0].1.clone();
    agents.sort();
    assert_eq!(agents, ["emil", "fatima", "ivan", "kofi"]);
}

#[test]
fn escalations_go_to_named_tier2_engineers_best_first() {
    let mut h = sample();
    let acts = h.enqueue("esc", "tier2");
    assert_eq!(
        one_offer(&acts).1,
        "ivan",
        "tier2 5 beats kofi 4 and jade 3"
    );
}

#[test]
fn every_call_type_of_the_sample_finds_someone() {
    let mut h = sample();
    for (i, q) in [
        "password",
        "password-es",
        "hardware",
        "hardware-es",
        "network",
        "tier2",
    ]
    .iter()
    .enumerate()
    {
        let acts = h.enqueue(&format!("c{i}"), q);
        assert_eq!(offers(&acts).len(), 1, "{q}");
    }
}
