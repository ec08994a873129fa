//! Loader and checker tests: good files load, bad ones are refused with positions.
use super::*;
use crate::diag::Diagnostic;
use std::path::Path;

const AGENTS: &str = r#"
[[agents]]
id = "ann"
skills = { network = 3, english = 5 }
queues = { a = 0 }
"#;

fn check(queues: &str) -> Result<Loaded, Vec<Diagnostic>> {
    load_str(
        "queues.toml",
        queues,
        Some((Path::new("agents.toml"), AGENTS)),
    )
}

fn errors(queues: &str) -> Vec<String> {
    check(queues)
        .expect_err("should be refused")
        .iter()
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn sample_files_load_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let loaded = load_files(&dir.join("queues.toml"), Some(&dir.join("agents.toml")))
        .unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    assert_eq!(loaded.config.queues.len(), 7);
    assert_eq!(
        loaded.config.agents.len(),
        13,
        "every sample agent login has a roster entry"
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let tier2 = &loaded.config.queues[loaded.config.queue_id("tier2").unwrap().0 as usize];
    assert_eq!(tier2.membership, crate::acd::types::Membership::Explicit);
    assert_eq!(
        tier2.max_size,
        Some((30, crate::acd::types::Outcome::Callback))
    );
    let recorded: Vec<&str> = loaded
        .config
        .queues
        .iter()
        .filter(|q| q.record)
        .map(|q| q.name.as_str())
        .collect();
    assert_eq!(
        recorded,
        ["emergencies"],
        "recording is off unless a queue asks"
    );
}

#[test]
fn unknown_skill_is_reported_with_position_and_suggestion() {
    let e = errors("skills = [\"network\"]\nlanguages = [\"english\"]\n[[queues]]\nname = \"a\"\nrequired = { netwrk = 2 }\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("queues.toml:5:14: unknown skill `netwrk` (did you mean `network`?); known skills: english, network"), "{}", e[0]);
}

#[test]
fn overflow_cycle_is_refused() {
    let q = r#"skills = ["network"]
languages = ["english"]
[[queues]]
name = "a"
overflow = { to = "b", after_s = 60 }
[[queues]]
name = "b"
max_wait = { after_s = 600, outcome = "overflow", to = "c" }
[[queues]]
name = "c"
overflow = { to = "a", when_no_agents = true }
"#;
    let e = errors(q);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("queues.toml:11:"), "{}", e[0]);
    assert!(
        e[0].contains("overflow cycle: c -> a -> b -> c")
            || e[0].contains("overflow cycle: a -> b -> c -> a"),
        "{}",
        e[0]
    );
}

#[test]
fn impossible_requirements_are_refused() {
    let too_high = "skills = [\"network\"]\nlanguages = [\"english\"]\n[[queues]]\nname = \"a\"\nrequired = { network = 7 }\n";
    let e = errors(too_high);
    assert!(
        e[0].starts_with("queues.toml:5:24: required level 7 for skill `network` is out of range"),
        "{e:?}"
    );
    assert!(e[0].contains("no agent can ever meet it"));
    let nobody = "skills = [\"network\"]\nlanguages = [\"english\"]\n[[queues]]\nname = \"a\"\nrequired = { network = 4 }\n";
    let e = errors(nobody);
    assert!(e[0].contains("impossible requirement: no agent in agents.toml has network>=4 (closest: `ann` with network 3)"), "{e:?}");
    // a relaxation step that lets someone in turns it into a warning
    let relaxed = format!("{nobody}relax = [{{ after_s = 30, max_level = 3 }}]\n");
    let ok = check(&relaxed).unwrap();
    assert!(
        ok.warnings[0].message.contains("wait at least 30 s"),
        "{:?}",
        ok.warnings
    );
}

#[test]
fn bad_names_and_values_are_explained() {
    let e = errors("skills = [\"network\"]\nlanguages = [\"english\"]\n[[queues]]\nname = \"a\"\nstrategy = \"longest_idle\"\nrona_s = 0\nmax_wait = { after_s = 5, outcome = \"hangup\" }\n");
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].contains("5:12: unknown strategy `longest_idle` (did you mean `longest-idle`?)"),
        "{}",
        e[0]
    );
    assert!(e
        .iter()
        .any(|x| x.contains("6:10: rona_s must be at least 1")));
    assert!(e.iter().any(|x| x.contains("unknown outcome `hangup`")));
}

#[test]
fn a_queue_may_have_its_own_maximum_call_length() {
    let base = "skills = [\"network\"]\nlanguages = [\"english\"]\n[[queues]]\nname = \"a\"\n";
    let loaded = check(&format!("{base}max_call_s = 7200\n")).expect("loads");
    assert_eq!(loaded.config.queues[0].max_call_ms, Some(7_200_000));
    let loaded = check(base).expect("loads");
    assert_eq!(
        loaded.config.queues[0].max_call_ms, None,
        "default: [media] max_call_s"
    );
    let e = errors(&format!("{base}max_call_s = 0\n"));
    assert!(
        e.iter()
            .any(|x| x.contains("5:14: max_call_s must be at least 1 second")),
        "{e:?}"
    );
}

#[test]
fn toml_errors_and_unknown_fields_have_positions() {
    let e = errors("skills = [\"network\"\n");
    assert!(e[0].starts_with("queues.toml:1:"), "{e:?}");
    let e = errors("skills = [\"network\"]\nlanguages = [\"english\"]\n[[queues]]\nname = \"a\"\nstrategi = \"ring-all\"\n");
    assert!(
        e[0].starts_with("queues.toml:5:1: unknown field `strategi`"),
        "{e:?}"
    );
}

#[test]
fn agents_file_problems_point_into_agents_toml() {
    let agents = "[[agents]]\nid = \"x\"\nskills = { netwrok = 2 }\nqueues = { nope = 0 }\n";
    let e = load_str(
        "queues.toml",
        "skills = [\"network\"]\n",
        Some((Path::new("agents.toml"), agents)),
    )
    .unwrap_err();
    let e: Vec<String> = e.iter().map(|d| d.to_string()).collect();
    assert!(
        e.iter()
            .any(|x| x.starts_with("agents.toml:3:12: unknown skill `netwrok`")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|x| x.starts_with("agents.toml:4:12: unknown queue `nope`")),
        "{e:?}"
    );
}
