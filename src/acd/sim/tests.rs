//! The simulator against the textbook: Erlang C and Erlang A must fall inside the
//! simulator's 95% confidence interval and within 2%; plus scenario behaviour.
use super::report::Ci;
use super::*;
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> Report {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/scenarios")
        .join(name);
    run_scenario_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn agrees(what: &str, formula: f64, sim: Option<Ci>) {
    let c = sim.unwrap_or_else(|| panic!("{what}: no estimate"));
    let rel = (c.mean - formula) / formula;
    assert!(
        c.contains(formula),
        "{what}: formula {formula} outside {c:?}"
    );
    assert!(
        rel.abs() < 0.02,
        "{what}: {:.2}% off (formula {formula}, sim {c:?})",
        rel * 100.0
    );
}

#[test]
fn erlang_c_is_reproduced_at_occupancy_0_85() {
    let r = scenario("erlang-c.toml");
    let run = &r.runs[0];
    assert_eq!(run.counted_calls, 1_000_000);
    let e = run.erlang.expect("textbook scenario");
    assert_eq!(e.model, "Erlang C");
    assert!(
        (run.occupancy.unwrap() - 0.85).abs() < 0.005,
        "{:?}",
        run.occupancy
    );
    agrees("P(wait)", e.figures.p_wait, run.batch.p_wait);
    agrees("ASA", e.figures.asa_s, run.batch.asa_s);
    agrees("SL", e.figures.service_level, run.batch.service_level);
    assert_eq!(run.overall.abandoned, 0);
}

#[test]
fn erlang_a_is_reproduced_with_exponential_patience() {
    let r = scenario("erlang-a.toml");
    let run = &r.runs[0];
    let e = run.erlang.expect("textbook scenario");
    assert_eq!(e.model, "Erlang A");
    agrees("P(wait)", e.figures.p_wait, run.batch.p_wait);
    agrees("ASA", e.figures.asa_s, run.batch.asa_s);
    agrees("SL", e.figures.service_level, run.batch.service_level);
    agrees("abandon", e.figures.p_abandon, run.batch.abandon_rate);
}

#[test]
fn two_skill_day_with_abandonment_and_the_one_more_agent_what_if() {
    let r = scenario("two-skills.toml");
    let [base, plus] = r.runs.as_slice() else {
        panic!("baseline and one what-if")
    };
    assert_eq!((base.agents, plus.agents), (15, 16));
    assert_eq!(
        base.counted_calls, plus.counted_calls,
        "same arrivals in both runs"
    );
    assert_eq!(base.intervals.len(), 32, "16 half hours x 2 queues");
    let sl = |r: &RunReport| r.overall.service_level.unwrap();
    let ab = |r: &RunReport| r.overall.abandon_rate.unwrap();
    assert!(ab(base) > 0.0);
    assert!(
        sl(plus) > sl(base) && ab(plus) < ab(base),
        "one more agent must help: {base}\n{plus}"
    );
    let text = r.to_string();
    assert!(
        text.contains("== one more bilingual agent — 16 agents"),
        "{text}"
    );
}

#[test]
fn ring_and_wrap_up_count_in_asa_and_aht_not_in_p_wait() {
    let text = r#"
skills = ["s"]
[sim]
seed = 3
duration_s = 36000
ring_s = 2
[[queues]]
name = "q"
wrap_up_s = 10
[[arrivals]]
queue = "q"
per_hour = 1
handle = { dist = "const", value_s = 100 }
[[roster]]
name = "a"
count = 3
skills = { s = 1 }
"#;
    let r = run_scenario_str(Path::new("t.toml"), text).unwrap();
    let k = r.runs[0].overall;
    assert!(k.offered > 0);
    assert_eq!(k.aht_s, Some(110.0));
    assert_eq!(k.asa_s, Some(2.0));
    assert_eq!(k.waited_share, Some(0.0));
    assert!(
        r.runs[0].erlang.is_none(),
        "ring and wrap-up: not a textbook case"
    );
}

#[test]
fn scenario_mistakes_are_reported_with_positions() {
    let text = "skills = [\"s\"]\n[sim]\nduration_s = 60\n[[queues]]\nname = \"q\"\n[[arrivals]]\nqueue = \"nope\"\nper_hour = 1\nhandle = { dist = \"exp\", mean_s = 1 }\n";
    let e = run_scenario_str(Path::new("t.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("t.toml:7:9: arrivals go to unknown queue `nope`"),
        "{e}"
    );
    let text = "skills = [\"s\"]\n[sim]\nduration_s = 60\n[[queues]]\nname = \"q\"\nrequired = { x = 1 }\n";
    let e = run_scenario_str(Path::new("t.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.toml:6:14: unknown skill `x`"), "{e}");
}
