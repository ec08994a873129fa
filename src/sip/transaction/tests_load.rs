//! Load test: 10,000 concurrent server INVITE transactions plus 10,000 client
//! transactions in one layer. Asserts counts and that everything drains; prints the
//! per-message cost with few and with many live transactions (no timed assertion).

use std::time::Instant;

use super::test_util::*;
use super::Action;
use crate::sip::message::Method;

const N: usize = 10_000;

#[test]
fn ten_thousand_concurrent_transactions_stay_flat_and_drain() {
    let mut h = Harness::new();
    let mut invites = Vec::with_capacity(N);
    let started = Instant::now();
    let mut first_batch = None;
    let mut last_start = started;
    for i in 0..N {
        if i == N - 1000 {
            last_start = Instant::now();
        }
        let mut inv = invite(&format!("z9hG4bKload{i}"), 1);
        inv.headers.set("call-id", format!("load-{i}@192.0.2.10"));
        h.layer.on_message(inv.clone().into(), udp_peer(), h.at(0));
        invites.push(inv);
        if i == 999 {
            first_batch = Some(started.elapsed());
        }
    }
    let last_batch = last_start.elapsed();
    for i in 0..N {
        let mut opt = request(Method::Options, &format!("z9hG4bKout{i}"), 1);
        opt.headers.set("call-id", format!("out-{i}@192.0.2.10"));
        h.layer.send_request(opt, udp_peer(), h.at(0)).unwrap();
    }
    assert_eq!(h.layer.len(), 2 * N);
    let tus: Vec<_> = h
        .layer
        .drain_actions()
        .filter_map(|a| match a {
            Action::RequestReceived { tx, .. } => Some(tx),
            _ => None,
        })
        .collect();
    assert_eq!(tus.len(), N);

    // Retransmissions of the first and of the last 1,000 INVITEs with 20,000 live.
    let t = Instant::now();
    for inv in &invites[..1000] {
        h.layer.on_message(inv.clone().into(), udp_peer(), h.at(1));
    }
    let early = t.elapsed();
    let t = Instant::now();
    for inv in &invites[N - 1000..] {
        h.layer.on_message(inv.clone().into(), udp_peer(), h.at(1));
    }
    let late = t.elapsed();
    assert_eq!(h.layer.stats().absorbed, 2000);

    for (tx, inv) in tus.iter().zip(&invites) {
        h.layer
            .send_response(*tx, response(inv, 200), h.at(2))
            .unwrap();
    }
    let t = Instant::now();
    let (mut terminated, mut wakeups) = (0, 0);
    while let Some(due) = h.layer.poll_timeout() {
        h.layer.on_timer(due);
        wakeups += 1;
        terminated += h
            .layer
            .drain_actions()
            .filter(|a| matches!(a, Action::Terminated { .. }))
            .count();
    }
    let timers = t.elapsed();
    assert!(h.layer.is_empty(), "every transaction ends by its timers");
    assert_eq!(terminated, 2 * N);
    assert_eq!(
        h.layer.stats().timeouts,
        N as u64,
        "the OPTIONS got no answer"
    );
    eprintln!(
        "load: 1000 new INVITEs with 0 / {} live: {:?} / {:?}; 1000 retransmits (first/last \
         created) with {} live: {:?} / {:?}; all timers to drain: {:?} in {wakeups} wake-ups",
        N - 1000,
        first_batch.unwrap_or_default(),
        last_batch,
        2 * N,
        early,
        late,
        timers
    );
}
