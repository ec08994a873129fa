//! One signalling shard: a task owning a [`Legs`] core (transactions + call legs) for the
//! Call-IDs hashed to it. It feeds the core messages, commands and the clock, and carries out
//! what the core asks: send bytes, hand new calls to the call layer, route leg events.

use super::{tu, Admission, Command, IncomingCall, LegRef, Shared};
use crate::sip::leg::{LegConfig, LegEvent, LegId, Legs, Output};
use crate::sip::message::{Message, Response};
use crate::sip::transaction::{response_peer, stamp_top_via, Peer, TimerConfig, TxId};
use crate::sip::validate::{validate_request_with, validate_response, Policy};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// What a shard is fed. Messages travel by value: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum ShardInput {
    Inbound {
        msg: Message,
        peer: Peer,
        now: Instant,
    },
    SendStateless {
        msg: Message,
        to: Peer,
    },
    Command(Command),
}

pub(super) struct Shard {
    pub idx: usize,
    pub legs: Legs,
    pub shared: Arc<Shared>,
    /// What incoming requests may Require (`timer` with session timers on).
    policy: Policy,
    routes: HashMap<LegId, UnboundedSender<(LegRef, LegEvent)>>,
    requests: HashMap<TxId, UnboundedSender<Result<Response, bool>>>,
    answered_at: HashMap<LegId, Instant>,
    buf: Vec<u8>,
    last_legs: i64,
    last_txs: i64,
    last_retrans: u64,
}

pub(super) fn spawn(idx: usize, shared: Arc<Shared>, rx: UnboundedReceiver<ShardInput>) {
    let s = &shared.settings.sip;
    let timers = TimerConfig {
        t1: Duration::from_millis(s.t1_ms),
        t2: Duration::from_millis(s.t1_ms * 8),
        t4: Duration::from_millis(s.t1_ms * 10),
        // Timer D is at least 32 s in RFC 3261; scaled with T1 so tests can shorten it.
        timer_d: Duration::from_millis(s.t1_ms * 64),
        // §17.2.1: 100 Trying only if the TU has not answered within 200 ms. Admission is
        // synchronous, so a refused INVITE draws just its final response (one packet).
        trying_delay: Duration::from_millis(200),
    };
    let cfg = LegConfig {
        local_host: s.advertised_host.clone(),
        local_port: s.udp.port(),
        contact_user: "helpline".into(),
        allow: tu::ALLOW.into(),
        max_auth_attempts: 2,
        session_expires: s.session_expires_s,
        min_se: s.min_se_s,
    };
    if idx == 0 && s.session_expires_s > 0 && s.min_se_s < 90 {
        tracing::warn!(
            min_se_s = s.min_se_s,
            "sip.min_se_s is below RFC 4028's 90 s: for tests only"
        );
    }
    let shard = Shard {
        idx,
        legs: Legs::new(timers, cfg, super::shard_seed(idx)),
        policy: tu::policy(&shared.settings),
        shared,
        routes: HashMap::new(),
        requests: HashMap::new(),
        answered_at: HashMap::new(),
        buf: Vec::with_capacity(2048),
        last_legs: 0,
        last_txs: 0,
        last_retrans: 0,
    };
    tokio::spawn(shard.run(rx));
}

impl Shard {
    async fn run(mut self, mut rx: UnboundedReceiver<ShardInput>) {
        let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(far());
        tokio::pin!(sleep);
        loop {
            let deadline = self.legs.poll_timeout();
            let target = deadline.map_or_else(far, tokio::time::Instant::from_std);
            if sleep.deadline() != target {
                sleep.as_mut().reset(target);
            }
            tokio::select! {
                input = rx.recv() => {
                    let Some(input) = input else { break };
                    self.handle(input);
                    // Take whatever else is queued before looking at the clock again.
                    for _ in 0..256 {
                        match rx.try_recv() {
                            Ok(input) => self.handle(input),
                            Err(_) => break,
                        }
                    }
                }
                _ = &mut sleep => {}
            }
            let now = Instant::now();
            if self.legs.poll_timeout().is_some_and(|d| d <= now) {
                self.legs.on_timer(now);
                self.flush();
            }
            self.update_gauges();
        }
    }

    fn handle(&mut self, input: ShardInput) {
        // A bug triggered by one message must not take every call of the shard down with it:
        // log it loudly (tests fail on it) and keep serving.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match input {
                ShardInput::Inbound { msg, peer, now } => self.inbound(msg, peer, now),
                ShardInput::SendStateless { msg, to } => self.send(&to, &msg),
                ShardInput::Command(cmd) => self.command(cmd),
            }
            self.flush();
        }));
        if r.is_err() {
            tracing::error!(
                shard = self.idx,
                "BUG: panic while handling a SIP input; input dropped"
            );
        }
    }

    fn inbound(&mut self, msg: Message, peer: Peer, now: Instant) {
        match &msg {
            Message::Request(req) => {
                if let Err(rej) = validate_request_with(req, &self.policy) {
                    self.shared.metrics.sip_parse_errors.inc();
                    if req.method != crate::sip::message::Method::Ack {
                        let mut resp = rej.to_response(req, &tu::stateless_tag());
                        if let Ok(via) = resp.headers.top_via() {
                            let via = stamp_top_via(&mut resp.headers, via, &peer);
                            self.send(&response_peer(&via, &peer), &Message::Response(resp));
                        }
                    }
                    return;
                }
            }
            Message::Response(resp) => {
                if validate_response(resp).is_err() {
                    self.shared.metrics.sip_parse_errors.inc();
                    return;
                }
            }
        }
        self.legs.on_message(msg, peer, now);
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        let result = match cmd {
            Command::Answer(leg, sdp) => self.legs.answer(leg, sdp, now),
            Command::Reject(leg, status) => self.legs.reject(leg, status, &[], now),
            Command::AuthorizeWith(leg, creds) => self.legs.authorize_with(leg, &creds, now),
            Command::Respond(tx, resp) => {
                if let Err(e) = self.legs.respond(tx, resp, now) {
                    tracing::debug!(error = %e, "in-dialog response refused");
                }
                Ok(())
            }
            Command::Hangup(leg) => self.legs.hangup(leg, now),
            Command::Cancel(leg, reason) => self.legs.cancel(leg, reason, now),
            Command::Reinvite(leg, sdp) => self.legs.reinvite(leg, sdp, now),
            Command::AnswerReinvite(leg, sdp) => self.legs.answer_reinvite(leg, sdp, now),
            Command::RejectReinvite(leg, status) => self.legs.reject_reinvite(leg, status, now),
            Command::Authorize(leg, creds) => self.legs.authorize(leg, creds, now),
            Command::SendRequest {
                request,
                to,
                responses,
            } => {
                match self.legs.send_request(request, to, now) {
                    Ok(tx) => {
                        self.requests.insert(tx, responses);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "out-of-dialog request not sent");
                        let _ = responses.send(Err(false));
                    }
                }
                Ok(())
            }
            Command::Call {
                call,
                events,
                reply,
            } => {
                let r = self.legs.call(call, now).map(|leg| {
                    self.routes.insert(leg, events);
                    LegRef {
                        shard: self.idx,
                        leg,
                    }
                });
                let _ = reply.send(r.map_err(|e| e.to_string()));
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::debug!(shard = self.idx, error = %e, "leg command refused");
        }
    }

    /// Carry out everything the core produced.
    pub(super) fn flush(&mut self) {
        while let Some(out) = self.legs.poll_output() {
            match out {
                Output::Send { to, msg, .. } => self.send(&to, &msg),
                Output::IncomingCall { leg, invite, from } => self.incoming(leg, invite, from),
                Output::Leg { leg, event } => {
                    if let Some(tx) = self.routes.get(&leg) {
                        let _ = tx.send((
                            LegRef {
                                shard: self.idx,
                                leg,
                            },
                            event,
                        ));
                    }
                }
                Output::Request { tx, request, from } => tu::out_of_dialog(self, tx, request, from),
                Output::Response { tx, response } => {
                    let last = response.status >= 200;
                    let sink = if last {
                        self.requests.remove(&tx)
                    } else {
                        self.requests.get(&tx).cloned()
                    };
                    if let Some(sink) = sink {
                        let _ = sink.send(Ok(response));
                    }
                }
                Output::RequestFailed { tx, timeout } => {
                    if let Some(sink) = self.requests.remove(&tx) {
                        let _ = sink.send(Err(timeout));
                    }
                }
                Output::LegFreed { leg } => {
                    self.routes.remove(&leg);
                    self.answered_at.remove(&leg);
                }
            }
        }
    }

    fn incoming(&mut self, leg: LegId, invite: crate::sip::message::Request, from: Peer) {
        let now = Instant::now();
        let call = IncomingCall {
            leg: LegRef {
                shard: self.idx,
                leg,
            },
            invite,
            from,
            received: now,
        };
        match self.shared.calls.incoming(call) {
            Admission::Reject { status, headers } => {
                let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                if status == 503 {
                    self.shared.metrics.sip_rejected_overload.inc();
                }
                if let Err(e) = self.legs.reject(leg, status, &h, now) {
                    tracing::debug!(error = %e, "reject failed");
                }
            }
            Admission::Ring { events } => {
                self.routes.insert(leg, events);
                let _ = self.legs.ring(leg, None, now);
            }
            Admission::Answer { sdp, events } => {
                self.routes.insert(leg, events);
                let _ = self.legs.ring(leg, None, now);
                match self.legs.answer(leg, sdp, now) {
                    Ok(()) => {
                        self.answered_at.insert(leg, now);
                        self.shared
                            .metrics
                            .answer_latency
                            .observe(now.elapsed().as_secs_f64());
                    }
                    Err(e) => tracing::debug!(error = %e, "answer failed"),
                }
            }
        }
    }

    pub(super) fn send(&mut self, to: &Peer, msg: &Message) {
        self.buf.clear();
        match msg {
            Message::Request(r) => r.write_to(&mut self.buf),
            Message::Response(r) => {
                self.shared
                    .metrics
                    .sip_responses
                    .with_label_values(&[status_label(r.status)])
                    .inc();
                r.write_to(&mut self.buf)
            }
        }
        self.shared
            .transports
            .send(to, bytes::Bytes::copy_from_slice(&self.buf));
    }

    fn update_gauges(&mut self) {
        let legs = self.legs.len() as i64;
        let txs = self.legs.layer().len() as i64;
        let m = &self.shared.metrics;
        m.sip_dialogs_active.add(legs - self.last_legs);
        m.sip_transactions_active.add(txs - self.last_txs);
        self.last_legs = legs;
        self.last_txs = txs;
        let retrans = self.legs.layer().stats().retransmissions;
        m.sip_retransmissions
            .inc_by(retrans.saturating_sub(self.last_retrans));
        self.last_retrans = retrans;
    }
}

/// Status codes as static label strings (bounded label values).
fn status_label(status: u16) -> &'static str {
    const CODES: &[(u16, &str)] = &[
        (100, "100"),
        (180, "180"),
        (183, "183"),
        (200, "200"),
        (202, "202"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (406, "406"),
        (407, "407"),
        (408, "408"),
        (415, "415"),
        (416, "416"),
        (420, "420"),
        (423, "423"),
        (480, "480"),
        (481, "481"),
        (482, "482"),
        (483, "483"),
        (486, "486"),
        (487, "487"),
        (488, "488"),
        (491, "491"),
        (500, "500"),
        (501, "501"),
        (503, "503"),
        (505, "505"),
        (603, "603"),
    ];
    CODES.iter().find(|(c, _)| *c == status).map_or(
        match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            5 => "5xx",
            _ => "6xx",
        },
        |(_, l)| l,
    )
}
