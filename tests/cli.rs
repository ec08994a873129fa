//! Issue 3, must-show 6: a bad config or a missing file makes `helpline check` and
//! `helpline serve` exit non-zero with `file:line:column: why`, and never panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], config: &Path) -> Output {
    Command::new(common::binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run helpline")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("helpline-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_and_serve_refuse_a_bad_value_with_its_position() {
    let d = tmp("bad");
    let cfg = d.join("helpline.toml");
    std::fs::write(
        &cfg,
        "[sip]\nudp = \"0.0.0.0:5060\"\nsupport_numbers = [\"help me\"]\n",
    )
    .unwrap();
    for cmd in ["check", "serve"] {
        let o = run(&[cmd], &cfg);
        assert!(!o.status.success(), "{cmd} accepted a bad config");
        let err = stderr(&o);
        let want = format!(
            "{}:3:20: support number `help me` is not a phone number",
            cfg.display()
        );
        assert!(err.contains(&want), "{cmd}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn toml_syntax_error_and_unknown_key_have_positions() {
    let d = tmp("syntax");
    let cfg = d.join("helpline.toml");
    std::fs::write(&cfg, "[http]\nlisten = \"0.0.0.0:8080\"\nlisen = 1\n").unwrap();
    let err = stderr(&run(&["check"], &cfg));
    assert!(
        err.starts_with(&format!("{}:3:1: ", cfg.display())),
        "{err}"
    );
    assert!(err.contains("lisen"), "{err}");
    std::fs::write(&cfg, "[sip\n").unwrap();
    let err = stderr(&run(&["check"], &cfg));
    assert!(err.starts_with(&format!("{}:1:", cfg.display())), "{err}");
}

#[test]
fn missing_config_or_users_file_is_named() {
    let d = tmp("missing");
    let o = run(&["serve"], &d.join("nope.toml"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains(&format!(
        "{}:1:1: cannot read config",
        d.join("nope.toml").display()
    )));
    let cfg = d.join("helpline.toml");
    std::fs::write(
        &cfg,
        format!("[paths]\nusers = \"{}\"\n", d.join("users.toml").display()),
    )
    .unwrap();
    let err = stderr(&run(&["check"], &cfg));
    assert!(
        err.contains(&format!(
            "{}:1:1: cannot read users file",
            d.join("users.toml").display()
        )),
        "{err}"
    );
}

#[test]
fn bad_users_file_entry_is_refused_with_position() {
    let d = tmp("users");
    let users = d.join("users.toml");
    std::fs::write(
        &users,
        "[[user]]\nusername = \"x\"\nrole = \"boss\"\npassword_hash = \"plain\"\n",
    )
    .unwrap();
    let cfg = d.join("helpline.toml");
    std::fs::write(&cfg, format!("[paths]\nusers = \"{}\"\n", users.display())).unwrap();
    let o = run(&["check"], &cfg);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:3:8: role `boss` unknown", users.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:4:17: password_hash must be an argon2 PHC string",
            users.display()
        )),
        "{err}"
    );
}

#[test]
fn the_shipped_config_checks_clean() {
    let o = Command::new(common::binary())
        .current_dir(common::repo())
        .arg("check")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).is_empty() && !String::from_utf8_lossy(&o.stdout).contains("warning"),
        "the shipped config has warnings: {}",
        stderr(&o)
    );
}

/// Issue 19: a login user with role agent and no agents.toml entry, and an agents.toml name
/// that differs from the user's display name, are warned about with `file:line` — the config
/// is still accepted. A bad region code is refused with its position.
#[test]
fn check_warns_about_agents_the_roster_does_not_know_and_refuses_bad_regions() {
    let d = tmp("roster");
    let users = d.join("users.toml");
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$qUW7fKfP7+/LO3iHVDJt7g$C9RjEqaJKvceBrKn1xuNjsH8x+iXSu+kxCyy7hJao4I";
    std::fs::write(
        &users,
        format!(
            "[[user]]\nusername = \"ann\"\nrole = \"agent\"\npassword_hash = \"{hash}\"\n\
             display_name = \"Ann Smith\"\n\n\
             [[user]]\nusername = \"newbie\"\nrole = \"agent\"\npassword_hash = \"{hash}\"\n"
        ),
    )
    .unwrap();
    // The sample roster (so every sample queue can be served) plus Ann, named differently.
    let repo = common::repo();
    let sample = std::fs::read_to_string(repo.join("config/agents.toml")).unwrap();
    let sample = format!("{}\n", sample.trim_end());
    let name_line = sample.lines().count() + 4;
    let agents = d.join("agents.toml");
    std::fs::write(
        &agents,
        format!(
            "{sample}\n[[agents]]\nid = \"ann\"\nname = \"Annie\"\nskills = {{ network = 3 }}\n"
        ),
    )
    .unwrap();
    let queues = repo.join("config/queues.toml");
    let paths = format!(
        "[paths]\nusers = \"{}\"\nagents = \"{}\"\nqueues = \"{}\"\ndialplans = \"{}\"\nprompts = \"{}\"\n",
        users.display(),
        agents.display(),
        queues.display(),
        repo.join("dialplans").display(),
        repo.join("dialplans/prompts").display()
    );
    let sip = "[sip]\nsupport_numbers = [\"+442079460000\", \"+18005550100\"]\ntransfer_allow = [\"+4420794609XX\"]\n";
    let cfg = d.join("helpline.toml");
    std::fs::write(&cfg, format!("{sip}{paths}")).unwrap();
    let o = run(&["check"], &cfg);
    let err = stderr(&o);
    assert!(
        o.status.success(),
        "warnings do not refuse the config: {err}"
    );
    assert!(
        err.contains(&format!(
            "{}:8:12: warning: user `newbie` has role agent but no entry in",
            users.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:{name_line}:8: warning: agent `ann` is named \"Annie\" here but \"Ann Smith\"",
            agents.display()
        )),
        "{err}"
    );

    std::fs::write(
        &cfg,
        format!("{sip}[sip.line_regions]\n\"+18005550100\" = \"XX\"\n{paths}"),
    )
    .unwrap();
    let o = run(&["check"], &cfg);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("{}:5:18: unknown region `XX`", cfg.display())),
        "{}",
        stderr(&o)
    );
}
