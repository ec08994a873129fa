//! Outbound side of a leg, run once per 20 ms tick: picks what the party hears (prompt, hold
//! music, conference mix, bridged peer, queue music — in that order), sends DTMF, feeds the
//! recorder, sends RTCP reports and raises the media timeout.

use std::time::{Duration, Instant};

use super::super::dtmf::DtmfSender;
use super::super::events::MediaEvent;
use super::super::goertzel::dtmf_tone;
use super::super::player::{Player, FRAME};
use super::super::prompts::Prompt;
use super::super::rtcp::{self, ReportBlock};
use super::super::shared::Popped;
use super::super::stats::{send_jitter_bucket, MediaStats};
use super::{lock, DtmfOut, Leg, Transmit};

const TICK: Duration = Duration::from_millis(20);
/// Frames of silence between two digits sent.
const DTMF_GAP_TICKS: u32 = 3;
const DTMF_MS: u32 = 100;

/// What the party hears this tick.
enum Heard {
    Nothing,
    /// Linear audio in `leg.frame`.
    Pcm,
    /// Audio already in our codec in `leg.relay` (bridge relay, no decode).
    Encoded,
}

impl Leg {
    /// Runs tick number `tick` (20 ms each since the engine epoch) at `now`, wall clock `ntp`.
    pub fn on_tick(&mut self, tick: u64, now: Instant, ntp: u64, tx: &mut impl Transmit) {
        self.dtmf_rx.poll(now);
        self.drain_rfc4733();
        self.check_timeout(now);
        let Some(media) = self.media.clone() else {
            return;
        };
        let sends = media.direction.sends();
        let mut heard = self.produce(tick);
        if self.dtmf_out(tick, media.telephone_event_pt, sends, tx) {
            heard = Heard::Nothing;
        } else if let Some(DtmfOut::Tone(player)) = self.dtmf_active.as_mut() {
            if player.next_frame(&mut self.frame) {
                heard = Heard::Pcm;
            } else {
                self.dtmf_active = None;
                self.dtmf_gap = DTMF_GAP_TICKS;
            }
        }
        if sends {
            match heard {
                Heard::Pcm => {
                    self.enc.clear();
                    media.codec.encode(&self.frame, &mut self.enc);
                    self.pkt.clear();
                    self.out
                        .audio(tick, media.payload_type, &self.enc, false, &mut self.pkt);
                    self.send_audio(tick, tx);
                }
                Heard::Encoded => {
                    self.pkt.clear();
                    self.out
                        .audio(tick, media.payload_type, &self.relay, false, &mut self.pkt);
                    self.send_audio(tick, tx);
                }
                Heard::Nothing => {}
            }
        }
        if self.recording.is_some() {
            self.record(&heard, media.codec);
        }
        if now >= self.next_rtcp {
            self.send_report(tick, now, ntp, tx);
        }
    }

    fn produce(&mut self, tick: u64) -> Heard {
        // Always consume the relay and the mix so nothing stale piles up behind a prompt.
        let relayed = self.peer.is_some() && {
            let popped = self.shared.pop_frame(&mut self.relay);
            if popped == Popped::Trimmed {
                MediaStats::add(&self.stats.buffer_trims, 1);
            }
            popped.is_frame()
        };
        let mut mix = [0i16; FRAME];
        let mixed = self
            .mixer
            .as_ref()
            .is_some_and(|m| lock(m).mix_for(self.setup.id, tick, &mut mix));
        if let Some(p) = self.prompt.as_mut() {
            if p.player.next_frame(&mut self.frame) {
                return Heard::Pcm;
            }
            self.finish_prompt(false);
        }
        if self.hold {
            let music = self.music.as_mut().or(self.hold_player.as_mut());
            return match music.map(|m| m.next_frame(&mut self.frame)) {
                Some(true) => Heard::Pcm,
                _ => Heard::Nothing,
            };
        }
        if mixed {
            self.frame = mix;
            return Heard::Pcm;
        }
        if relayed {
            return Heard::Encoded;
        }
        match self.music.as_mut().map(|m| m.next_frame(&mut self.frame)) {
            Some(true) => Heard::Pcm,
            _ => Heard::Nothing,
        }
    }

    /// Sends the next RFC 4733 packet if a digit is going out; true when it did.
    fn dtmf_out(
        &mut self,
        tick: u64,
        event_pt: Option<u8>,
        sends: bool,
        tx: &mut impl Transmit,
    ) -> bool {
        if !sends {
            self.dtmf_queue.clear();
            self.dtmf_active = None;
            return false;
        }
        if self.dtmf_active.is_none() {
            if self.dtmf_gap > 0 {
                self.dtmf_gap -= 1;
                return false;
            }
            let Some(d) = self.dtmf_queue.pop_front() else {
                return false;
            };
            self.dtmf_active = match event_pt {
                Some(_) => DtmfSender::new(d, DTMF_MS, 8000, 20)
                    .ok()
                    .map(|s| DtmfOut::Event(s, tick)),
                None => Some(DtmfOut::Tone(Player::once(vec![Prompt::new(
                    "",
                    "dtmf",
                    dtmf_tone(d, DTMF_MS, 7000.0),
                )]))),
            };
        }
        let (Some(DtmfOut::Event(sender, start)), Some(pt)) = (self.dtmf_active.as_mut(), event_pt)
        else {
            return false;
        };
        let start = *start;
        match sender.next_packet() {
            Some(p) => {
                self.pkt.clear();
                self.out.event(tick, start, pt, &p, &mut self.pkt);
                let to = self.rtp_dest();
                tx.rtp(to, &self.pkt);
                self.count_out();
                true
            }
            None => {
                self.dtmf_active = None;
                self.dtmf_gap = DTMF_GAP_TICKS;
                false
            }
        }
    }

    fn rtp_dest(&self) -> std::net::SocketAddr {
        self.rtp_latch
            .as_ref()
            .map(|l| l.destination())
            .or(self.media.as_ref().map(|m| m.remote))
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 9)))
    }

    fn count_out(&mut self) {
        self.counters.rtp_out += 1;
        self.pending.packets_out += 1;
        self.pending.bytes_out += self.pkt.len() as u64;
    }

    fn send_audio(&mut self, tick: u64, tx: &mut impl Transmit) {
        let to = self.rtp_dest();
        let at = tx.rtp(to, &self.pkt);
        if let Some((last_tick, last_at)) = self.last_send {
            if last_tick + 1 == tick {
                let interval = at.saturating_duration_since(last_at);
                let dev = interval.abs_diff(TICK);
                self.pending.send_jitter[send_jitter_bucket(dev)] += 1;
                self.pending.send_jitter_sum_us += dev.as_micros() as u64;
            }
        }
        self.last_send = Some((tick, at));
        self.count_out();
    }

    fn record(&mut self, heard: &Heard, codec: super::super::codec::Codec) {
        let mut party = [0i16; FRAME];
        let n = self.party_pcm.len().min(FRAME);
        for (dst, src) in party.iter_mut().zip(self.party_pcm.drain(..n)) {
            *dst = src;
        }
        let mut out = [0i16; FRAME];
        match heard {
            Heard::Pcm => out = self.frame,
            Heard::Encoded => {
                self.pcm.clear();
                codec.decode(&self.relay, &mut self.pcm);
                for (dst, &src) in out.iter_mut().zip(self.pcm.iter()) {
                    *dst = src;
                }
            }
            Heard::Nothing => {}
        }
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        if let Some(chunk) = rec.tap.push(&party, &out) {
            let id = rec.id;
            self.writer.data(id, chunk);
        }
    }

    /// The media timeout is always armed once the peer is known: a peer that sends nothing
    /// (a recvonly offer included) still sends RTCP, so silence on both means it is gone. An
    /// inactive stream (a hold, or `c=0.0.0.0`) waits longer, never forever.
    fn check_timeout(&mut self, now: Instant) {
        let Some(media) = self.media.as_ref() else {
            return;
        };
        let limit = if media.direction == super::super::codec::Direction::Inactive
            || media.remote.ip().is_unspecified()
        {
            self.setup.hold_timeout.max(self.setup.media_timeout)
        } else {
            self.setup.media_timeout
        };
        let silent = now.saturating_duration_since(self.last_heard);
        if !self.timed_out && silent >= limit {
            self.timed_out = true;
            MediaStats::add(&self.stats.media_timeouts, 1);
            tracing::info!(session = self.setup.id, call = %self.setup.label, ?silent, "media timeout");
            self.emit(MediaEvent::MediaTimeout { silent_for: silent });
        }
    }

    fn send_report(&mut self, tick: u64, now: Instant, ntp: u64, tx: &mut impl Transmit) {
        self.schedule_rtcp(now, false);
        let Some(dest) = self.rtcp_latch.as_ref().map(|l| l.destination()) else {
            return;
        };
        let sender = self
            .out
            .sent_since(self.last_report_tick)
            .then(|| self.out.sender_info(tick, ntp));
        self.last_report_tick = tick;
        let mut blocks = Vec::new();
        if self.rx.has_source() {
            let r = self.rx.interval_report();
            let (lsr, dlsr) = match self.remote_sr {
                Some((lsr, at)) => (lsr, rtcp::to_dlsr(now.saturating_duration_since(at))),
                None => (0, 0),
            };
            blocks.push(ReportBlock {
                ssrc: r.snapshot.ssrc,
                fraction_lost: r.fraction_lost,
                cumulative_lost: r
                    .snapshot
                    .cumulative_lost
                    .clamp(i32::MIN as i64, i32::MAX as i64)
                    as i32,
                extended_max_seq: r.snapshot.extended_max_seq,
                jitter: r.snapshot.jitter,
                lsr,
                dlsr,
            });
        }
        self.account_loss();
        self.pkt.clear();
        rtcp::build_report(
            self.out.ssrc(),
            sender.as_ref(),
            &blocks,
            &self.setup.cname,
            &mut self.pkt,
        );
        tx.rtcp(dest, &self.pkt);
        self.counters.rtcp_out += 1;
        self.pending.packets_out += 1;
        self.pending.bytes_out += self.pkt.len() as u64;
    }
}
