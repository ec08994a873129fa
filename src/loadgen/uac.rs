//! The sans-IO UAC engine behind one load-generator socket: a table of calls in
//! flight, dispatched by Call-ID, with RFC 3261 client timers on a timing wheel.
//!
//! Each call goes INVITE → (1xx) → 2xx → ACK → hold → BYE → 2xx. The engine
//! retransmits the INVITE on timer A (T1, doubling) and the BYE on timer E (T1,
//! doubling up to T2 = 4 s) and counts those retransmissions; it re-ACKs a
//! retransmitted 2xx; it fails a call when timer B/F (64·T1) expires, on any final
//! non-2xx (which it ACKs on the INVITE's branch), or when the server hangs up first.
//! Responses for calls it no longer knows are ACKed statelessly when final.
//! It is fed datagrams and the time (`Instant`) and appends datagrams to send to the
//! target; it owns no socket and reads no clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::caller_media::{sdp_audio_addr, CallerMedia, MediaConfig, MediaCounts};
use super::msg::{Dialog, Party};
use super::stats::{FailReason, Stats};
use super::timer::TimerWheel;
use crate::sip::message::{Message, Method, Request, Response, Uri};

/// T2 of RFC 3261: the cap on non-INVITE retransmission intervals.
const T2_MS: u64 = 4000;

/// What one engine sends and how it paces a call.
#[derive(Clone, Debug)]
pub struct UacConfig {
    pub party: Party,
    /// How long to stay in the call before BYE; `None` holds until [`Uac::release`].
    pub hold: Option<Duration>,
    /// RFC 3261 T1 (500 ms normally).
    pub t1: Duration,
    /// Unique per run and socket; goes into Call-IDs, tags and branches.
    pub tag: String,
    /// Send RTP (and key presses) on answered calls, as IVR callers do.
    pub media: Option<MediaConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// INVITE sent, nothing heard (timer A retransmits).
    Calling,
    /// A provisional response came.
    Proceeding,
    /// 2xx received and ACKed.
    Established,
    /// BYE sent.
    Bye,
}

struct Call {
    serial: u64,
    call_id: String,
    from_tag: String,
    state: State,
    invite_sent: Instant,
    /// The request being retransmitted (INVITE, then BYE).
    request: Vec<u8>,
    interval_ms: u64,
    /// The ACK for the 2xx, resent when the 2xx is retransmitted.
    ack: Vec<u8>,
    dialog: Option<Dialog>,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    InviteRetransmit,
    InviteTimeout,
    HoldOver,
    ByeRetransmit,
    ByeTimeout,
}

#[derive(Clone, Copy, Debug)]
struct Timer {
    slot: usize,
    serial: u64,
    kind: Kind,
}

/// Snapshot of the call table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// Calls not yet finished (any state).
    pub in_flight: usize,
    /// Calls still waiting for a final answer to their INVITE.
    pub unanswered: usize,
    /// Calls answered and not yet hung up.
    pub established: usize,
}

/// One socket's worth of calls.
pub struct Uac {
    cfg: UacConfig,
    request_uri: Uri,
    epoch: Instant,
    calls: Vec<Option<Call>>,
    free: Vec<usize>,
    by_id: HashMap<String, usize>,
    timers: TimerWheel<Timer>,
    fired: Vec<Timer>,
    /// Established calls with no hold timer, oldest first, waiting for `release`.
    held: std::collections::VecDeque<(usize, u64)>,
    next_serial: u64,
    unanswered: usize,
    established: usize,
    stats: Stats,
    media: Option<CallerMedia>,
}

impl Uac {
    pub fn new(cfg: UacConfig, now: Instant) -> Uac {
        Uac {
            request_uri: cfg.party.request_uri(),
            media: cfg
                .media
                .as_ref()
                .map(|m| CallerMedia::new(m.digits.clone(), now)),
            cfg,
            epoch: now,
            calls: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            timers: TimerWheel::new(4096),
            fired: Vec::new(),
            held: Default::default(),
            next_serial: 0,
            unanswered: 0,
            established: 0,
            stats: Stats::default(),
        }
    }

    pub fn load(&self) -> Load {
        Load {
            in_flight: self.by_id.len(),
            unanswered: self.unanswered,
            established: self.established,
        }
    }

    /// Changes the hold time for calls answered from now on.
    pub fn set_hold(&mut self, hold: Option<Duration>) {
        self.cfg.hold = hold;
    }

    /// The counters since the last call, resetting them.
    pub fn take_stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }

    /// Notes a call the pacer skipped because too many were in flight.
    pub fn note_throttled(&mut self, n: u64) {
        self.stats.throttled += n;
    }

    /// Notes a datagram the socket refused.
    pub fn note_send_error(&mut self) {
        self.stats.send_errors += 1;
    }

    fn ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn t1_ms(&self) -> u64 {
        (self.cfg.t1.as_millis() as u64).max(1)
    }

    fn branch(&self, serial: u64, kind: char) -> String {
        format!("z9hG4bK{serial:x}{kind}{}", self.cfg.tag)
    }

    fn schedule(&mut self, at_ms: u64, slot: usize, serial: u64, kind: Kind) {
        self.timers.insert(at_ms, Timer { slot, serial, kind });
    }

    /// Starts one call: sends its INVITE.
    pub fn start_call(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let serial = self.next_serial;
        self.next_serial += 1;
        let call_id = format!("{serial:x}-{}", self.cfg.tag);
        let from_tag = format!("{serial:x}f{}", self.cfg.tag);
        let rtp_port = match &self.cfg.media {
            Some(m) => m.rtp_port,
            None => 10_000 + ((serial % 20_000) as u16) * 2,
        };
        let branch = self.branch(serial, 'i');
        let invite = self
            .cfg
            .party
            .invite(&call_id, &from_tag, &branch, rtp_port)
            .to_bytes();
        out.push(invite.clone());
        let t1 = self.t1_ms();
        let call = Call {
            serial,
            call_id: call_id.clone(),
            from_tag,
            state: State::Calling,
            invite_sent: now,
            request: invite,
            interval_ms: t1,
            ack: Vec::new(),
            dialog: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(entry) = self.calls.get_mut(slot) {
                    *entry = Some(call);
                }
                slot
            }
            None => {
                self.calls.push(Some(call));
                self.calls.len() - 1
            }
        };
        self.by_id.insert(call_id, slot);
        self.stats.attempted += 1;
        self.unanswered += 1;
        let ms = self.ms(now);
        self.schedule(ms + t1, slot, serial, Kind::InviteRetransmit);
        self.schedule(ms + 64 * t1, slot, serial, Kind::InviteTimeout);
    }

    /// Sends BYE on up to `n` calls held without a hold timer; returns how many.
    pub fn release(&mut self, n: usize, now: Instant, out: &mut Vec<Vec<u8>>) -> usize {
        let mut done = 0;
        while done < n {
            let Some((slot, serial)) = self.held.pop_front() else {
                break;
            };
            let live = matches!(self.call(slot), Some(c) if c.serial == serial && c.state == State::Established);
            if live {
                self.send_bye(slot, now, out);
                done += 1;
            }
        }
        done
    }

    fn call(&self, slot: usize) -> Option<&Call> {
        self.calls.get(slot).and_then(Option::as_ref)
    }

    fn call_mut(&mut self, slot: usize) -> Option<&mut Call> {
        self.calls.get_mut(slot).and_then(Option::as_mut)
    }

    /// Removes a call, counting it as completed (`None`) or failed.
    fn finish(&mut self, slot: usize, failure: Option<FailReason>) {
        let Some(call) = self.calls.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.by_id.remove(&call.call_id);
        self.free.push(slot);
        if let Some(m) = &mut self.media {
            m.stop(call.serial);
        }
        match call.state {
            State::Calling | State::Proceeding => self.unanswered -= 1,
            State::Established => self.established -= 1,
            State::Bye => {}
        }
        match failure {
            None => self.stats.completed += 1,
            Some(reason) => self.stats.fail(reason),
        }
    }

    fn send_bye(&mut self, slot: usize, now: Instant, out: &mut Vec<Vec<u8>>) {
        let ms = self.ms(now);
        let t1 = self.t1_ms();
        let Some(call) = self.calls.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let Some(dialog) = &call.dialog else {
            return;
        };
        let serial = call.serial;
        if let Some(m) = &mut self.media {
            m.stop(serial);
        }
        let branch = self.branch(serial, 'b');
        let bye = self
            .cfg
            .party
            .bye(&call.call_id, &call.from_tag, dialog, &branch)
            .to_bytes();
        out.push(bye.clone());
        if let Some(call) = self.calls.get_mut(slot).and_then(Option::as_mut) {
            if call.state == State::Established {
                call.state = State::Bye;
                self.established -= 1;
            }
            call.request = bye;
            call.interval_ms = t1;
        }
        self.schedule(ms + t1, slot, serial, Kind::ByeRetransmit);
        self.schedule(ms + 64 * t1, slot, serial, Kind::ByeTimeout);
    }

    /// Handles one received datagram.
    pub fn on_datagram(&mut self, data: &[u8], now: Instant, out: &mut Vec<Vec<u8>>) {
        match Message::parse(data) {
            Ok(Message::Response(resp)) => self.on_response(resp, now, out),
            Ok(Message::Request(req)) => self.on_request(req, out),
            Err(_) => self.stats.unparsable += 1,
        }
    }

    fn on_response(&mut self, resp: Response, now: Instant, out: &mut Vec<Vec<u8>>) {
        let (Ok(call_id), Ok(cseq)) = (resp.call_id(), resp.cseq()) else {
            self.stats.unparsable += 1;
            return;
        };
        let Some(&slot) = self.by_id.get(call_id) else {
            self.on_stray(&resp, cseq.method, out);
            return;
        };
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        let state = call.state;
        match (cseq.method, state) {
            (Method::Invite, State::Calling | State::Proceeding) => {
                if resp.is_provisional() {
                    call.state = State::Proceeding;
                } else if resp.is_success() {
                    self.on_answer(slot, &resp, now, out);
                } else {
                    if let Some(ack) = self.cfg.party.ack(&resp, &self.request_uri, "") {
                        out.push(ack.to_bytes());
                    }
                    self.finish(slot, Some(FailReason::InviteRejected(resp.status)));
                }
            }
            (Method::Invite, State::Established | State::Bye) if resp.is_success() => {
                out.push(call.ack.clone());
                self.stats.ok_retrans += 1;
            }
            (Method::Bye, State::Bye) if !resp.is_provisional() => {
                let failure = (!resp.is_success()).then_some(FailReason::ByeRejected(resp.status));
                self.finish(slot, failure);
            }
            _ => {}
        }
    }

    fn on_answer(&mut self, slot: usize, resp: &Response, now: Instant, out: &mut Vec<Vec<u8>>) {
        let Some(call) = self.calls.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let branch = self.branch(call.serial, 'a');
        let ack = self.cfg.party.ack(resp, &self.request_uri, &branch);
        let dialog = Dialog::from_response(resp, &self.request_uri);
        let (Some(ack), Some(dialog)) = (ack, dialog) else {
            self.stats.unparsable += 1;
            return;
        };
        let ack = ack.to_bytes();
        out.push(ack.clone());
        let latency = now.saturating_duration_since(call.invite_sent);
        self.stats.latency.record(latency.as_micros() as u64);
        self.stats.answered += 1;
        self.unanswered -= 1;
        self.established += 1;
        let serial = call.serial;
        if let (Some(m), Some(remote)) = (&mut self.media, sdp_audio_addr(&resp.body)) {
            m.start(serial, remote, now);
        }
        if let Some(call) = self.call_mut(slot) {
            call.state = State::Established;
            call.ack = ack;
            call.dialog = Some(dialog);
            call.request = Vec::new();
        }
        match self.cfg.hold {
            Some(hold) if hold.is_zero() => self.send_bye(slot, now, out),
            Some(hold) => {
                let at = self.ms(now) + hold.as_millis() as u64;
                self.schedule(at, slot, serial, Kind::HoldOver);
            }
            None => self.held.push_back((slot, serial)),
        }
    }

    /// A response for no call we know: count it, and ACK a final INVITE response so
    /// the server stops retransmitting it.
    fn on_stray(&mut self, resp: &Response, method: Method, out: &mut Vec<Vec<u8>>) {
        self.stats.stray += 1;
        if method != Method::Invite || resp.is_provisional() {
            return;
        }
        let uri = resp
            .to()
            .map(|to| to.uri)
            .unwrap_or(self.request_uri.clone());
        let branch = self.branch(self.stats.stray, 's');
        if let Some(ack) = self.cfg.party.ack(resp, &uri, &branch) {
            out.push(ack.to_bytes());
        }
    }

    fn on_request(&mut self, req: Request, out: &mut Vec<Vec<u8>>) {
        let status = match req.method {
            Method::Ack => return,
            Method::Options => 200,
            Method::Bye => match req.call_id().ok().and_then(|id| self.by_id.get(id)) {
                Some(&slot) => {
                    // Our own BYE crossing theirs still ends the call normally.
                    if self.call(slot).is_some_and(|c| c.state != State::Bye) {
                        self.finish(slot, Some(FailReason::RemoteBye));
                    }
                    200
                }
                None => 481,
            },
            _ => 501,
        };
        out.push(Response::for_request(&req, status, "").to_bytes());
    }

    /// Media frames (RTP, key presses) due by `now`, as (destination, datagram).
    pub fn media_tick(&mut self, now: Instant, out: &mut Vec<(std::net::SocketAddr, Vec<u8>)>) {
        if let Some(m) = &mut self.media {
            m.tick(now, out);
        }
    }

    /// A datagram arrived on the RTP socket from `from`.
    pub fn on_rtp(&mut self, from: std::net::SocketAddr) {
        if let Some(m) = &mut self.media {
            m.on_packet(from);
        }
    }

    /// What the callers' media did so far (None without media).
    pub fn media_counts(&self) -> Option<MediaCounts> {
        self.media.as_ref().map(CallerMedia::counts)
    }

    /// Runs every timer due by `now`.
    pub fn on_timers(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let ms = self.ms(now);
        let mut fired = std::mem::take(&mut self.fired);
        self.timers.advance(ms, &mut fired);
        for t in fired.drain(..) {
            self.on_timer(t, ms, now, out);
        }
        self.fired = fired;
    }

    fn on_timer(&mut self, t: Timer, ms: u64, now: Instant, out: &mut Vec<Vec<u8>>) {
        let Some(call) = self.call_mut(t.slot) else {
            return;
        };
        if call.serial != t.serial {
            return;
        }
        match (t.kind, call.state) {
            (Kind::InviteRetransmit, State::Calling) => {
                out.push(call.request.clone());
                call.interval_ms *= 2;
                let at = ms + call.interval_ms;
                self.stats.invite_retrans += 1;
                self.schedule(at, t.slot, t.serial, Kind::InviteRetransmit);
            }
            (Kind::ByeRetransmit, State::Bye) => {
                out.push(call.request.clone());
                call.interval_ms = (call.interval_ms * 2).min(T2_MS);
                let at = ms + call.interval_ms;
                self.stats.bye_retrans += 1;
                self.schedule(at, t.slot, t.serial, Kind::ByeRetransmit);
            }
            (Kind::InviteTimeout, State::Calling) => {
                self.finish(t.slot, Some(FailReason::InviteTimeout));
            }
            (Kind::InviteTimeout, State::Proceeding) => {
                self.finish(t.slot, Some(FailReason::AnswerTimeout));
            }
            (Kind::ByeTimeout, State::Bye) => self.finish(t.slot, Some(FailReason::ByeTimeout)),
            (Kind::HoldOver, State::Established) => self.send_bye(t.slot, now, out),
            _ => {}
        }
    }
}
