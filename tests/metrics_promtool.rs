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

/// Every query of deploy/grafana-dashboard.json is valid PromQL (checked as recording rules by
/// promtool) and names only metrics the server exports or the rules record.
#[test]
fn the_grafana_dashboard_queries_parse_and_name_known_metrics() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/deploy/grafana-dashboard.json")).expect("read"),
    )
    .expect("dashboard JSON");
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                exprs.push(e.replace("$queue", ".*"));
            }
        }
    }
    assert!(exprs.len() >= 15, "{exprs:?}");
    let rules =
        std::fs::read_to_string(format!("{root}/deploy/prometheus-rules.yml")).expect("rules");
    let src = std::fs::read_to_string(format!("{root}/src/metrics.rs")).expect("metrics.rs");
    for e in &exprs {
        for name in e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("helpline_") || w.starts_with("queue:"))
        {
            let base = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                src.contains(&format!("\"{base}\"")) || rules.contains(&format!("record: {name}")),
                "dashboard names unknown metric {name} in {e}"
            );
        }
    }
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let one_line = e.replace('\n', " ").replace('\'', "''");
        file.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: '{one_line}'\n"
        ));
    }
    let path = std::env::temp_dir().join(format!("helpline-dash-{}.yml", std::process::id()));
    std::fs::write(&path, file).expect("write");
    if let Some((ok, out)) = promtool(&["check", "rules", &path.display().to_string()], "") {
        assert!(ok, "promtool on the dashboard's queries:\n{out}");
    }
    let _ = std::fs::remove_file(path);
}
