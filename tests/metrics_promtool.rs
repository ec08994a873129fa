//! The running server's `/metrics` (after a few real SIP calls) parsed by Prometheus's own
//! linter, `promtool check metrics` (Debian package `prometheus`; skipped with a message when
//! it is not installed), and the shipped recording rules by `promtool check rules`.
mod common;

use common::{binary, http_get, Server};
use std::io::Write;
use std::process::{Command, Stdio};

fn promtool(args: &[&str], input: &str) -> Option<(bool, String)> {
    let Ok(mut child) = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "SKIP: promtool not found; apt-get install prometheus (tests/setup/install-deps.sh)"
        );
        return None;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

#[test]
fn metrics_after_calls_pass_promtool_and_name_only_bounded_labels() {
    let server = Server::start("promtool", "");
    let status = Command::new(binary())
        .args(["loadgen", "--target", &server.sip.to_string()])
        .args([
            "--number",
            "+442079460999",
            "--rate",
            "20",
            "--duration",
            "1",
        ])
        .args(["--sockets", "1"])
        .stdout(Stdio::null())
        .status()
        .expect("loadgen");
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (code, text) = http_get(server.http, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200);
    assert!(text.contains("helpline_calls_total"), "{text}");
    assert!(
        text.contains("helpline_queue_waiting_callers{queue=\"network\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("helpline_agents{state=\"available\"}"),
        "{text}"
    );
    assert!(!text.contains("+44"), "no phone numbers in labels");
    if let Some((ok, out)) = promtool(&["check", "metrics"], &text) {
        assert!(ok, "promtool check metrics:\n{out}");
    }
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus-rules.yml");
    if let Some((ok, out)) = promtool(&["check", "rules", rules], "") {
        assert!(ok, "promtool check rules:\n{out}");
    }
}
