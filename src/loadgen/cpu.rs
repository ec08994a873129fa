//! CPU time of a process from /proc: utime + stime of the process and of every
//! descendant process alive at the time of reading (a multi-process server such as
//! Kamailio forks its workers; a threaded one such as helpline counts in one entry).
//! /proc reports in USER_HZ ticks, which Linux fixes at 100 per second.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::time::Duration;

const USER_HZ: u64 = 100;

/// (parent pid, utime + stime ticks) from the text of a /proc/<pid>/stat file.
pub fn parse_stat(text: &str) -> Option<(u32, u64)> {
    // The command name is in parentheses and may contain spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5): ppid is field 4, utime 14, stime 15.
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_micros(ticks * (1_000_000 / USER_HZ))
}

/// CPU time used so far by this process (all threads).
pub fn own_cpu() -> io::Result<Duration> {
    let text = fs::read_to_string("/proc/self/stat")?;
    let (_, ticks) = parse_stat(&text).ok_or_else(|| bad("/proc/self/stat"))?;
    Ok(ticks_to_duration(ticks))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse {what}"))
}

/// CPU time used so far by `pid` and all its live descendants.
pub fn tree_cpu(pid: u32) -> io::Result<Duration> {
    let own = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, root_ticks) = parse_stat(&own).ok_or_else(|| bad("/proc/<pid>/stat"))?;
    let mut children: HashMap<u32, Vec<(u32, u64)>> = HashMap::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while we read: skip any that vanished.
        let Ok(text) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((ppid, ticks)) = parse_stat(&text) {
            children.entry(ppid).or_default().push((child, ticks));
        }
    }
    let mut total = root_ticks;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        for &(child, ticks) in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if child != pid {
                total += ticks;
                stack.push(child);
            }
        }
    }
    Ok(ticks_to_duration(total))
}

/// CPU used by the server (if a pid was given) and by this process between
/// [`CpuMeter::start`] and [`CpuMeter::stop`].
pub struct CpuMeter {
    pid: Option<u32>,
    server: Option<Duration>,
    own: Option<Duration>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            server: pid.and_then(|p| tree_cpu(p).ok()),
            own: own_cpu().ok(),
        }
    }

    /// (server CPU, own CPU) since start; None where /proc could not be read.
    pub fn stop(self) -> (Option<Duration>, Option<Duration>) {
        let server = match (self.pid, self.server) {
            (Some(p), Some(before)) => tree_cpu(p).ok().map(|now| now.saturating_sub(before)),
            _ => None,
        };
        let own = match (self.own, own_cpu().ok()) {
            (Some(before), Some(now)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        (server, own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "1234 (kam (x) y) S 77 1234 1234 0 -1 4194560 1 0 0 0 250 31 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some((77, 281)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 0"), None);
    }

    #[test]
    fn own_cpu_grows_with_work_and_tree_includes_children() {
        let before = own_cpu().unwrap();
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(120) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        assert!(own_cpu().unwrap() > before);

        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 5",
            ])
            .spawn()
            .unwrap();
        let me = std::process::id();
        std::thread::sleep(Duration::from_millis(900));
        let child_cpu = tree_cpu(child.id()).unwrap();
        let own = own_cpu().unwrap();
        let tree = tree_cpu(me).unwrap();
        child.kill().unwrap();
        let _ = child.wait();
        assert!(child_cpu > Duration::ZERO, "the busy child used CPU");
        assert!(
            tree >= own + child_cpu,
            "{tree:?} < {own:?} + {child_cpu:?}"
        );
    }
}
