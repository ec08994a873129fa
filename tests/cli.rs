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
}
