//! Server-side cost of one call through the whole core, wire to wire: parse INVITE →
//! answer → serialize 200 → parse ACK → parse BYE → serialize 200. The caller's
//! messages are prepared before the clock starts. Run with
//! `cargo test --release -- --ignored --nocapture core_cost_per_call`.

use std::time::Instant;

use bytes::Bytes;

use super::test_util::*;
use super::{LegConfig, Legs, Output};
use crate::sip::message::{Message, Method};
use crate::sip::transaction::TimerConfig;

#[test]
#[ignore = "benchmark; prints µs per call"]
fn core_cost_per_call() {
    const N: usize = 20_000;
    let mut legs = Legs::new(TimerConfig::default(), LegConfig::default(), 5);
    let invites: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut inv = caller_invite(&format!("z9hG4bKbench{i}"));
            inv.headers.set("call-id", format!("bench-{i}@192.0.2.10"));
            inv.to_bytes()
        })
        .collect();
    let mut wire_out = Vec::with_capacity(2048);
    let mut oks = Vec::with_capacity(N);
    let t0 = Instant::now();
    let started = Instant::now();
    for data in &invites {
        let now = t0 + started.elapsed();
        let Ok(msg) = Message::parse(data) else {
            panic!("bad INVITE")
        };
        legs.on_message(msg, phone(), now);
        let mut leg = None;
        while let Some(o) = legs.poll_output() {
            if let Output::IncomingCall { leg: l, .. } = o {
                leg = Some(l);
            }
        }
        let leg = leg.expect("incoming call");
        legs.answer(leg, Bytes::from_static(ANSWER), now).unwrap();
        while let Some(o) = legs.poll_output() {
            if let Output::Send { msg, .. } = o {
                wire_out.clear();
                msg.write_to(&mut wire_out);
                oks.push(wire_out.clone());
            }
        }
    }
    let invite_phase = started.elapsed();
    // The caller side (not timed): ACK and BYE for each call.
    let mut acks = Vec::with_capacity(N);
    let mut byes = Vec::with_capacity(N);
    for (i, (inv, ok)) in invites.iter().zip(&oks).enumerate() {
        let (Ok(Message::Request(inv)), Ok(Message::Response(ok))) =
            (Message::parse(inv), Message::parse(ok))
        else {
            panic!("unparsable")
        };
        let mut d = caller_dialog(&inv, &ok);
        acks.push(
            d.ack_for_2xx(1, &phone_via(&format!("z9hG4bKa{i}")))
                .to_bytes(),
        );
        byes.push(
            d.new_request(Method::Bye, &phone_via(&format!("z9hG4bKb{i}")))
                .to_bytes(),
        );
    }
    let started2 = Instant::now();
    for data in acks.iter().chain(&byes) {
        let now = t0 + started.elapsed();
        let Ok(msg) = Message::parse(data) else {
            panic!("bad request")
        };
        legs.on_message(msg, phone(), now);
        while let Some(o) = legs.poll_output() {
            if let Output::Send { msg, .. } = o {
                wire_out.clear();
                msg.write_to(&mut wire_out);
            }
        }
    }
    let rest = started2.elapsed();
    let total = invite_phase + rest;
    eprintln!(
        "core cost: {:.1} µs/call (INVITE+answer {:.1} µs, ACK+BYE {:.1} µs), {} legs left",
        total.as_secs_f64() * 1e6 / N as f64,
        invite_phase.as_secs_f64() * 1e6 / N as f64,
        rest.as_secs_f64() * 1e6 / N as f64,
        legs.len()
    );
    assert_eq!(legs.len(), N, "legs wait for their transactions' timers");
}
