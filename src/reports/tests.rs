//! The report figures on a fixture day with hand-computed answers: 2025-10-26 in London, the
//! day the clocks go back (25 hourly intervals). Queues: sales (SL 20 s), support (SL 30 s);
//! short abandon 5 s. Times below are GMT (= UTC that day after 01:00).
//!
//! | call | what happens | counts in |
//! |------|--------------|-----------|
//! | A | queued sales 09:59:40 (password), rings alice 09:59:55, answered 10:00:05 (wait 25 s), talk 120 s, wrap 30 s | 09:00 |
//! | B | queued sales 10:10:10 (hardware), hangs up 3 s later: short abandon | 10:00 |
//! | C | queued support 10:20:05 (no choice), hangs up after 60 s | 10:00 |
//! | D | queued sales 10:30:02 (password), bob answers at once (wait 10 s), talk 60 s, wrap 20 s; transferred to support 10:31:13, alice answers 10:31:43 (wait 30 s), talk 100 s, no wrap | 10:00 (twice) |
//! | E | asks for a callback for sales in the IVR 11:00:20 | 11:00 |
//! | F | hangs up in the main menu | dropped at main_menu |
//! | G | queued the day before (23:59 BST), answered after midnight | not this day |
//! | H | queued sales 23:59:30, carol answers 00:00:10 next day (wait 40 s), talk 60 s, wrap 30 s | 23:00 |
use super::fold::{Change, Fold};
use super::interval::{Interval, Periods};
use super::tables::{build, Extras};
use super::tally::{KpiConfig, RangeTally};
use super::tickets::TicketTally;
use crate::store::EventRecord;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

const LONDON: chrono_tz::Tz = chrono_tz::Europe::London;

fn at(day: u32, h: u32, m: u32, s: u32) -> i64 {
    Utc.with_ymd_and_hms(2025, 10, day, h, m, s)
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

/// 2025-10-26 h:m:s GMT.
fn t(h: u32, m: u32, s: u32) -> i64 {
    at(26, h, m, s)
}

struct Fx {
    events: Vec<EventRecord>,
}

impl Fx {
    fn e(&mut self, call: Option<&str>, kind: &str, at_ms: i64, payload: Value) {
        let n = self.events.len();
        self.events.push(EventRecord {
            id: format!("ev{n:04}"),
            call_id: call.map(str::to_string),
            kind: kind.into(),
            at_ms,
            payload: payload.to_string(),
        });
    }
    fn agent(&mut self, agent: &str, state: &str, at_ms: i64) {
        let reason = (state == "not-ready").then_some("lunch");
        self.e(
            None,
            "agent.state_changed",
            at_ms,
            json!({"kind": "agent.state_changed", "agent": agent, "state": state, "reason": reason, "call": null}),
        );
    }
    fn arrived(&mut self, c: &str, at_ms: i64) {
        self.e(
            Some(c),
            "call.arrived",
            at_ms,
            json!({"caller": "+447700900123", "called": if c == "A" { "+18005550100" } else { "+442079460000" }, "transport": "UDP", "asserted": false}),
        );
    }
    fn queued(&mut self, c: &str, queue: &str, choice: Option<&str>, at_ms: i64) {
        let tags: Vec<String> = choice.iter().map(|c| format!("ivr_choice:{c}")).collect();
        self.e(
            Some(c),
            "call.queued",
            at_ms,
            json!({"queue": queue, "skills": {}, "priority": 0, "language": "en", "ticket": null, "tags": tags}),
        );
    }
    fn answered_by(&mut self, c: &str, agent: &str, queue: &str, offer: i64, answer: i64) {
        self.agent(agent, "ringing", offer);
        self.e(
            Some(c),
            "call.offered",
            offer,
            json!({"agent": agent, "queue": queue}),
        );
        self.e(
            Some(c),
            "call.connected",
            answer,
            json!({"agent": agent, "queue": queue, "wait_ms": 0}),
        );
        self.agent(agent, "on-call", answer);
    }
    fn talk_ended(&mut self, c: &str, agent: &str, at_ms: i64, talk_s: i64) {
        self.e(
            Some(c),
            "call.agent_ended",
            at_ms,
            json!({"agent": agent, "queue": "x", "talk_ms": talk_s * 1000, "hold_ms": 0, "by": "caller"}),
        );
    }
    fn node(&mut self, c: &str, node: &str, kind: &str, at_ms: i64) {
        self.e(
            Some(c),
            "ivr.step",
            at_ms,
            json!({"kind": "ivr.step", "node": node, "step": "node_entered", "node_kind": kind}),
        );
    }
    fn ended(&mut self, c: &str, cause: &str, at_ms: i64) {
        self.e(Some(c), "call.ended", at_ms, json!({"cause": cause}));
    }
}

pub(crate) fn fixture() -> Vec<EventRecord> {
    let mut f = Fx { events: vec![] };
    // G: before the day.
    f.agent("carol", "available", at(25, 22, 0, 0));
    f.arrived("G", at(25, 22, 58, 30));
    f.queued("G", "sales", Some("password"), at(25, 22, 59, 0));
    f.answered_by("G", "carol", "sales", at(25, 22, 59, 10), at(25, 23, 0, 30));
    f.talk_ended("G", "carol", at(25, 23, 1, 30), 60);
    f.agent("carol", "available", at(25, 23, 1, 30));
    f.ended("G", "caller_hangup", at(25, 23, 1, 30));
    f.agent("carol", "logged-out", at(25, 23, 30, 0));
    // Agents log in.
    f.agent("alice", "available", t(9, 0, 0));
    // A
    f.arrived("A", t(9, 59, 30));
    f.queued("A", "sales", Some("password"), t(9, 59, 40));
    f.answered_by("A", "alice", "sales", t(9, 59, 55), t(10, 0, 5));
    f.agent("bob", "available", t(10, 0, 0));
    f.talk_ended("A", "alice", t(10, 2, 5), 120);
    f.ended("A", "caller_hangup", t(10, 2, 5));
    f.agent("alice", "wrap-up", t(10, 2, 5));
    f.e(
        Some("A"),
        "call.survey",
        t(10, 2, 10),
        json!({"score": 5, "ticket": null}),
    );
    f.agent("alice", "available", t(10, 2, 35));
    // B: short abandon.
    f.arrived("B", t(10, 10, 0));
    f.queued("B", "sales", Some("hardware"), t(10, 10, 10));
    f.e(
        Some("B"),
        "call.abandoned",
        t(10, 10, 13),
        json!({"queue": "sales", "wait_ms": 3000}),
    );
    f.ended("B", "caller_hangup", t(10, 10, 13));
    // C: abandoned after a minute.
    f.arrived("C", t(10, 20, 0));
    f.queued("C", "support", None, t(10, 20, 5));
    f.e(
        Some("C"),
        "call.abandoned",
        t(10, 21, 5),
        json!({"queue": "support", "wait_ms": 60000}),
    );
    f.ended("C", "caller_hangup", t(10, 21, 5));
    // D: answered, then transferred and answered again.
    f.arrived("D", t(10, 30, 0));
    f.queued("D", "sales", Some("password"), t(10, 30, 2));
    f.answered_by("D", "bob", "sales", t(10, 30, 2), t(10, 30, 12));
    f.talk_ended("D", "bob", t(10, 31, 12), 60);
    f.agent("bob", "wrap-up", t(10, 31, 12));
    f.queued("D", "support", None, t(10, 31, 13));
    f.agent("bob", "available", t(10, 31, 32));
    f.answered_by("D", "alice", "support", t(10, 31, 33), t(10, 31, 43));
    f.talk_ended("D", "alice", t(10, 33, 23), 100);
    f.agent("alice", "available", t(10, 33, 23));
    f.e(
        Some("D"),
        "call.survey",
        t(10, 33, 30),
        json!({"score": 4, "ticket": null}),
    );
    f.ended("D", "agent_hangup", t(10, 33, 31));
    // E: callback requested in the IVR.
    f.arrived("E", t(11, 0, 0));
    for (n, k) in [
        ("welcome", "menu"),
        ("main_menu", "menu"),
        ("password", "set"),
        ("password_callback", "callback_offer"),
    ] {
        f.node("E", n, k, t(11, 0, 5));
    }
    f.e(
        Some("E"),
        "call.callback_requested",
        t(11, 0, 20),
        json!({"queue": "sales", "number": "+447700900123"}),
    );
    f.node("E", "callback_booked", "hangup", t(11, 0, 21));
    f.ended("E", "ivr_hangup", t(11, 0, 25));
    f.agent("bob", "logged-out", t(11, 0, 0));
    // F: hangs up in the main menu.
    f.arrived("F", t(11, 5, 0));
    f.node("F", "welcome", "menu", t(11, 5, 1));
    f.node("F", "main_menu", "menu", t(11, 5, 8));
    f.ended("F", "caller_hangup", t(11, 5, 20));
    // alice: lunch, then home.
    f.agent("alice", "not-ready", t(12, 0, 0));
    f.agent("alice", "logged-out", t(13, 0, 0));
    // H: queued just before midnight, everything else the next day.
    f.agent("carol", "available", t(23, 0, 0));
    f.arrived("H", t(23, 59, 20));
    f.queued("H", "sales", Some("network"), t(23, 59, 30));
    f.answered_by("H", "carol", "sales", t(23, 59, 40), at(27, 0, 0, 10));
    f.talk_ended("H", "carol", at(27, 0, 1, 10), 60);
    f.ended("H", "caller_hangup", at(27, 0, 1, 10));
    f.agent("carol", "wrap-up", at(27, 0, 1, 10));
    f.agent("carol", "available", at(27, 0, 1, 40));
    f.events
}

pub(crate) fn kpi() -> KpiConfig {
    KpiConfig {
        short_abandon_ms: 5_000,
        default_sl_ms: 20_000,
        sl_ms: [
            ("sales".to_string(), 20_000),
            ("support".to_string(), 30_000),
        ]
        .into(),
    }
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 26).unwrap_or_default()
}

/// The fixture folded in memory (what the store-backed path must equal).
fn tally_of(events: &[EventRecord], interval: Interval) -> RangeTally {
    let periods = Periods::new(LONDON, day(), day(), interval);
    let end = periods.end;
    let mut tally = RangeTally::new(periods, kpi());
    let mut fold = Fold::new();
    let mut buf: Vec<Change> = Vec::new();
    for ev in events {
        fold.apply(ev, &mut buf);
        for c in buf.drain(..) {
            tally.apply(&c);
        }
    }
    let open: Vec<_> = fold
        .agent_states()
        .map(|(a, s, since)| (a.to_string(), s, since))
        .collect();
    for (a, s, since) in open {
        tally.agent_span(&a, s, since, end);
    }
    tally
}

fn rows(name: &str, t: &RangeTally) -> Vec<Vec<Value>> {
    let names: HashMap<String, String> = [("alice".to_string(), "Alice A".to_string())].into();
    let tickets = TicketTally::default();
    let x = Extras {
        agent_names: &names,
        tickets: &tickets,
    };
    build(name, t, &x).map(|t| t.rows).unwrap_or_default()
}

fn row<'a>(rows: &'a [Vec<Value>], key: &str) -> &'a [Value] {
    rows.iter()
        .find(|r| r[0] == json!(key))
        .map_or(&[], |r| r.as_slice())
}

#[test]
fn by_queue_hand_computed() {
    let t = tally_of(&fixture(), Interval::Hour);
    let r = rows("by_queue", &t);
    // sales: A (25 s, handle 150), B (short abandon), D1 (10 s, handle 80), E (callback:
    // deflected), H (40 s, handle 90). SL = 1 in 20 s / (3 answered + 1 abandoned - 1 short).
    assert_eq!(
        row(&r, "sales"),
        [
            json!("sales"),
            json!(5),
            json!(3),
            json!(1),
            json!(1),
            json!(25.0),
            json!(106.7),
            json!(0.3333),
            json!(0.0)
        ]
    );
    // support: C (abandoned 60 s), D2 (transfer, 30 s: in SL at 30 s, handle 100).
    assert_eq!(
        row(&r, "support"),
        [
            json!("support"),
            json!(2),
            json!(1),
            json!(1),
            json!(0),
            json!(30.0),
            json!(100.0),
            json!(0.5),
            json!(0.5)
        ]
    );
    assert_eq!(r.len(), 2, "G belongs to the day before: {r:?}");
}

#[test]
fn volume_and_service_level_per_hour_on_the_25_hour_day() {
    let t = tally_of(&fixture(), Interval::Hour);
    let v = rows("volume", &t);
    assert_eq!(v.len(), 25);
    assert_eq!(v[1][0], json!("2025-10-26 01:00 BST"));
    assert_eq!(v[2][0], json!("2025-10-26 01:00 GMT"));
    // Index 10 = 09:00 GMT: A arrived and queued there, answered at 10:00:05.
    assert_eq!(
        v[10],
        [json!("2025-10-26 09:00"), json!(1), json!(1), json!(0)]
    );
    assert_eq!(
        v[11],
        [json!("2025-10-26 10:00"), json!(3), json!(2), json!(2)]
    );
    assert_eq!(
        v[12],
        [json!("2025-10-26 11:00"), json!(2), json!(0), json!(0)]
    );
    assert_eq!(
        v[24],
        [json!("2025-10-26 23:00"), json!(1), json!(1), json!(0)]
    );
    let received: u64 = t.received.iter().sum();
    assert_eq!(received, 7, "A B C D E F H (G arrived the day before)");
    let sl = rows("service_level", &t);
    assert_eq!(
        sl[10],
        [json!("2025-10-26 09:00"), json!(1), json!(0), json!(0.0)]
    );
    // B C D1 D2: in SL D1 (10 s) and D2 (30 s at 30); 2 / (2 + 2 - 1 short).
    assert_eq!(
        sl[11],
        [json!("2025-10-26 10:00"), json!(4), json!(2), json!(0.6667)]
    );
    assert_eq!(sl[12][3], Value::Null, "a callback alone: no SL");
}

#[test]
fn call_types_sources_ivr_and_surveys() {
    let t = tally_of(&fixture(), Interval::Day);
    let ct = rows("by_call_type", &t);
    // password: A, D1 and D2 (the transfer keeps the call's type); ASA (25+10+30)/3.
    assert_eq!(
        row(&ct, "password"),
        [
            json!("password"),
            json!(3),
            json!(3),
            json!(21.7),
            json!(110.0)
        ]
    );
    assert_eq!(row(&ct, "hardware")[1..3], [json!(1), json!(0)]);
    assert_eq!(row(&ct, "other")[1..3], [json!(2), json!(0)], "C and E");
    assert_eq!(row(&ct, "network")[1..3], [json!(1), json!(1)], "H");
    let src = rows("by_source", &t);
    assert_eq!(row(&src, "+442079460000")[1], json!(6));
    assert_eq!(row(&src, "+18005550100")[1], json!(1));
    let ivr = rows("ivr_dropout", &t);
    assert_eq!(
        row(&ivr, "main_menu")[1..],
        [json!(2), json!(1), json!(0.5)]
    );
    assert_eq!(row(&ivr, "welcome")[1..], [json!(2), json!(0), json!(0.0)]);
    assert_eq!(row(&ivr, "callback_booked")[2], json!(0), "a designed end");
    let tk = rows("tickets", &t);
    assert_eq!(tk[0][5..], [json!(4.5), json!(2)]);
}

#[test]
fn agents_time_occupancy_and_handle() {
    let t = tally_of(&fixture(), Interval::Hour);
    let a = rows("agents", &t);
    // alice: A (talk 120 + wrap 30) and D2 (talk 100); busy 160 s + 110 s, available
    // 3595 + 1738 + 5197 s, lunch 3600 s.
    assert_eq!(
        row(&a, "alice"),
        [
            json!("alice"),
            json!("Alice A"),
            json!(2),
            json!(110.0),
            json!(125.0),
            json!(0.025),
            json!(3600.0)
        ]
    );
    // bob: D1 (60 + 20); busy 90 s of 3600 s logged in.
    assert_eq!(
        row(&a, "bob")[2..],
        [json!(1), json!(60.0), json!(80.0), json!(0.025), json!(0.0)]
    );
    // carol: H (60 + 30, after midnight, still hers). In the day: G's last 30 s ringing and
    // 60 s talk after midnight BST, then 1710 s available; 3580 s available and 20 s ringing
    // for H: 110 s busy of 5400 s.
    assert_eq!(
        row(&a, "carol")[2..],
        [
            json!(1),
            json!(60.0),
            json!(90.0),
            json!(0.0204),
            json!(0.0)
        ]
    );
}

#[test]
fn events_in_any_order_of_equal_times_give_the_same_figures() {
    let mut ev = fixture();
    let a = rows("by_queue", &tally_of(&ev, Interval::Day));
    ev.sort_by_key(|e| e.at_ms);
    let b = rows("by_queue", &tally_of(&ev, Interval::Day));
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_store_path_gives_the_same_tables_as_the_fold() {
    use crate::store::test_support::test_stores;
    let ev = fixture();
    for ts in test_stores("reports_fixture").await {
        ts.store.insert_events(&ev).await.expect("insert");
        let cx = super::ReportContext {
            tz: LONDON,
            kpi: kpi(),
            agent_names: [("alice".to_string(), "Alice A".to_string())].into(),
            fcr_window_ms: 7 * 86_400_000,
        };
        let now = at(28, 0, 0, 0);
        for (name, interval) in [
            ("by_queue", Interval::Hour),
            ("volume", Interval::Hour),
            ("agents", Interval::Day),
            ("service_level", Interval::Min15),
            ("ivr_dropout", Interval::Day),
        ] {
            let req = super::ReportRequest {
                name: name.into(),
                from: day(),
                to: day(),
                interval,
            };
            let table = super::run(&ts.store, &cx, &req, now).await.expect("report");
            assert_eq!(
                table.rows,
                rows(name, &tally_of(&ev, interval)),
                "{name} on {}",
                ts.label
            );
        }
        // A later period starts with carol available (her last state before it).
        let req = super::ReportRequest {
            name: "agents".into(),
            from: NaiveDate::from_ymd_opt(2025, 10, 27).unwrap_or_default(),
            to: NaiveDate::from_ymd_opt(2025, 10, 27).unwrap_or_default(),
            interval: Interval::Day,
        };
        let table = super::run(&ts.store, &cx, &req, now).await.expect("report");
        let carol = row(&table.rows, "carol").to_vec();
        // 27 Oct: ringing→on-call 10 s + 60 s talk + 30 s wrap busy; the rest of 24 h idle.
        assert_eq!(carol[5], json!(0.0012), "{carol:?}");
        ts.finish().await;
    }
}

#[test]
fn requests_are_checked() {
    use super::ReportRequest as R;
    assert!(R::parse(
        "volume",
        Some("2025-01-01"),
        Some("2025-01-31"),
        Some("day")
    )
    .is_ok());
    for (name, from, to, iv) in [
        ("nope", "2025-01-01", "2025-01-02", "day"),
        ("volume", "2025-13-01", "2025-01-02", "day"),
        ("volume", "2025-01-03", "2025-01-02", "day"),
        ("volume", "2025-01-01", "2025-01-02", "week"),
        ("volume", "2025-01-01", "2025-12-31", "15m"),
    ] {
        let e = R::parse(name, Some(from), Some(to), Some(iv));
        assert!(
            matches!(e, Err(super::ReportError::Bad(_))),
            "{name} {from} {to} {iv}"
        );
    }
    assert!(R::parse("volume", None, Some("2025-01-01"), None).is_err());
}

#[test]
fn csv_has_the_header_and_empty_nulls() {
    let t = super::tables::Table {
        columns: vec!["queue", "asa_secs"],
        rows: vec![
            vec![json!("a,b"), Value::Null],
            vec![json!("c"), json!(1.5)],
        ],
        chart: None,
    };
    assert_eq!(
        super::tables::to_csv(&t),
        "queue,asa_secs\n\"a,b\",\n c,1.5\n".replace(" c", "c")
    );
}

/// Issue 14 row 14: text starting with `=`, `+`, `-` or `@` (a caller's name, a queue, an
/// agent's display name) ran as a formula when the CSV was opened in a spreadsheet.
#[test]
fn csv_text_that_could_run_as_a_formula_is_prefixed() {
    let t = super::tables::Table {
        columns: vec!["agent_name", "n"],
        rows: vec![
            vec![json!("=1+1"), json!(-3)],
            vec![json!("+44 20"), json!(1)],
            vec![json!("-x"), json!(2)],
            vec![json!("@SUM(A1)"), json!(3)],
            vec![json!("\tcmd"), json!(4)],
            vec![json!("Ann = ok"), json!(5)],
        ],
        chart: None,
    };
    assert_eq!(
        super::tables::to_csv(&t),
        "agent_name,n\n'=1+1,-3\n'+44 20,1\n'-x,2\n'@SUM(A1),3\n'\tcmd,4\nAnn = ok,5\n"
    );
}

/// Issue 19: a report asked for without an interval is read in the range's own: hours for a
/// day, days for a month, months for a year; an interval asked for is kept.
#[test]
fn the_interval_defaults_to_the_range() {
    let req = |from: &str, to: &str, interval: Option<&str>| {
        super::ReportRequest::parse("volume", Some(from), Some(to), interval)
            .map(|r| r.interval)
            .map_err(|e| e.to_string())
    };
    assert_eq!(req("2026-03-02", "2026-03-02", None), Ok(Interval::Hour));
    assert_eq!(
        req("2026-03-02", "2026-03-02", Some("")),
        Ok(Interval::Hour)
    );
    assert_eq!(req("2026-03-01", "2026-03-31", None), Ok(Interval::Day));
    assert_eq!(req("2025-04-01", "2026-03-31", None), Ok(Interval::Month));
    assert_eq!(
        req("2026-03-01", "2026-03-31", Some("hour")),
        Ok(Interval::Hour)
    );
}
