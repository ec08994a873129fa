//! `helpline check` on deliberately broken dialplans (one problem each): the exact
//! `file:line:column` and what the message says; and the sample plan passes.

use helpline::ivr::check::{check_dir, check_file, CheckContext};
use helpline::ivr::pattern::AllowList;
use helpline::ivr::prompts::PromptSet;
use helpline::ivr::set::{DialplanSet, LiveDialplans};
use std::path::PathBuf;

fn prompts() -> PromptSet {
    let text = std::fs::read_to_string(root().join("dialplans/prompts/prompts.tsv")).unwrap();
    PromptSet::from_prompts_txt(&text, &["en", "es"])
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn context(prompts: &PromptSet) -> CheckContext<'_> {
    let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    CheckContext {
        prompts,
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
    }
}

const CASES: &[(&str, &str, &str)] = &[
    ("syntax.toml", "11:20", "invalid basic string"),
    (
        "unknown_node.toml",
        "12:43",
        "unknown node `hardware_qeue`; did you mean `hardware_queue`?",
    ),
    (
        "unreachable.toml",
        "23:8",
        "node `old_promo` is unreachable",
    ),
    (
        "no_input_loop.toml",
        "9:8",
        "loop without caller input: intro → mark → decide → intro",
    ),
    (
        "missing_prompt.toml",
        "11:24",
        "prompt `holiday_greeting` has no recording in en, es; add prompts/en/holiday_greeting.wav",
    ),
    (
        "unknown_queue.toml",
        "21:9",
        "unknown queue `hardwre`; known queues: emergencies, emergency, hardware",
    ),
    (
        "unknown_skill.toml",
        "18:12",
        "unknown skill `pasword`; known skills:",
    ),
    (
        "transfer_not_allowed.toml",
        "21:10",
        "transfer to `+19005550123` is not on the transfer allow-list (allowed: +4420794609XX)",
    ),
    (
        "unknown_field.toml",
        "13:1",
        "unknown field `falback`; did you mean `fallback`?",
    ),
    (
        "field_for_other_kind.toml",
        "12:11",
        "`choices` does not apply to a `play` node",
    ),
    (
        "missing_fallback.toml",
        "9:8",
        "`menu` node `main_menu` needs `fallback`",
    ),
    (
        "bad_time_zone.toml",
        "10:13",
        "unknown time zone `Europe/Londres`",
    ),
    (
        "unknown_hours.toml",
        "15:22",
        "unknown hours `ofice`; define [hours.ofice]",
    ),
    (
        "bad_entry_number.toml",
        "6:10",
        "entry number `020 7946 0000` is not E.164",
    ),
    (
        "undeclared_language.toml",
        "11:12",
        "language `fr` is not declared in [plan] languages",
    ),
    (
        "unknown_kind.toml",
        "10:8",
        "unknown node kind `ivr_menu`; use one of: play, menu",
    ),
    (
        "survey_not_survey.toml",
        "8:10",
        "entry survey `main_menu` is a `menu` node",
    ),
    ("bad_pattern.toml", "22:13", "pattern `[0-9]{6}` has `[`"),
];

#[test]
fn each_broken_dialplan_reports_its_one_problem_where_it_is() {
    let prompts = prompts();
    let cx = context(&prompts);
    let dir = root().join("tests/dialplans-broken");
    let mut failures = Vec::new();
    for (file, at, fragment) in CASES {
        let path = dir.join(file);
        let diags = check_file(&path, &cx);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        let want = format!("{}:{at}: ", path.display());
        let ok = shown.len() == 1 && shown[0].starts_with(&want) && shown[0].contains(fragment);
        if !ok {
            failures.push(format!("{file}: want {at} `{fragment}`, got {shown:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let listed = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert_eq!(listed, CASES.len(), "every broken file has a case");
}

#[test]
fn an_entry_number_used_in_two_files_is_refused() {
    let prompts = prompts();
    let dir = root().join("tests/dialplans-broken/duplicate-entry");
    let diags = check_dir(&dir, &context(&prompts));
    let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(
        shown[0].starts_with(&format!("{}:6:10: ", dir.join("b.toml").display())),
        "{}",
        shown[0]
    );
    assert!(
        shown[0].contains(&format!(
            "`+442079460000` is already used at {}:6:10",
            dir.join("a.toml").display()
        )),
        "{}",
        shown[0]
    );
}

#[test]
fn the_sample_help_desk_passes_the_check() {
    let prompts = prompts();
    let diags = check_dir(&root().join("dialplans"), &context(&prompts));
    let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(shown.is_empty(), "{shown:#?}");
}

#[test]
fn the_sample_needs_every_prompt_in_both_languages() {
    let mut only_english = PromptSet::default();
    let text = std::fs::read_to_string(root().join("dialplans/prompts/prompts.tsv")).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        only_english.insert("en", line.split('\t').next().unwrap());
    }
    only_english.insert("es", "press2_spanish");
    let diags = check_dir(&root().join("dialplans"), &context(&only_english));
    assert!(!diags.is_empty());
    assert!(
        diags
            .iter()
            .all(|d| d.message.contains("has no recording in es;")),
        "{diags:#?}"
    );
    assert!(
        !diags
            .iter()
            .any(|d| d.message.contains("`press2_spanish`") || d.message.contains("`welcome`")),
        "pinned @en/@es prompts need only their language"
    );
}

#[test]
fn a_broken_reload_is_refused_and_the_old_plan_keeps_running() {
    let prompts = prompts();
    let cx = context(&prompts);
    let live = LiveDialplans::new(DialplanSet::load(&root().join("dialplans"), &cx, 1).unwrap());
    let tmp = std::env::temp_dir().join(format!("ivr-reload-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(
        root().join("tests/dialplans-broken/unknown_queue.toml"),
        tmp.join("helpdesk.toml"),
    )
    .unwrap();
    let refused = live.reload(&tmp, &cx).unwrap_err();
    assert!(refused[0]
        .to_string()
        .starts_with(&format!("{}:21:9:", tmp.join("helpdesk.toml").display())));
    assert_eq!(live.current().version(), 1);
    assert!(
        live.current().route("+18005550100").is_some(),
        "old plan still routes"
    );
    assert_eq!(live.refused_count(), 1);
    assert_eq!(live.last_error(), refused);

    std::fs::copy(
        root().join("dialplans/helpdesk.toml"),
        tmp.join("helpdesk.toml"),
    )
    .unwrap();
    assert_eq!(live.reload(&tmp, &cx), Ok(2));
    assert!(live.last_error().is_empty());
    std::fs::remove_dir_all(&tmp).unwrap();
}
