//! Inbound side of a leg: RTP checks (parse, latch, payload type), statistics, RFC 4733 and
//! in-band digits with barge-in, and passing the audio on to the bridge peer, the conference and
//! the recorder. Bad packets are counted and logged (rate-limited) and touch nothing else.

use std::net::SocketAddr;
use std::time::Instant;

use super::super::dtmf::DtmfDigit;
use super::super::events::{DigitSource, MediaEvent, RemoteReport};
use super::super::latch::Verdict;
use super::super::player::FRAME;
use super::super::rtcp::{self, RtcpPacket};
use super::super::rtp::{looks_like_rtcp, RtpPacket};
use super::super::shared::Pushed;
use super::super::stats::MediaStats;
use super::{lock, Leg, LOG_FOREIGN, LOG_MALFORMED, LOG_RTCP, LOG_WRONG_PT};

/// Comfort noise (RFC 3389): accepted quietly, carries no audio for us.
const PT_CN: u8 = 13;
/// Most decoded audio kept for the recorder's party channel (4 frames).
const PARTY_BACKLOG: usize = 4 * FRAME;

impl Leg {
    /// One datagram on the RTP port.
    pub fn on_rtp(&mut self, data: &[u8], from: SocketAddr, now: Instant, ntp: u64) {
        if looks_like_rtcp(data) {
            return self.on_rtcp(data, from, now, ntp); // rtcp-mux
        }
        let Some(media) = self.media.clone() else {
            MediaStats::add(&self.stats.foreign_source_packets, 1);
            self.counters.foreign_source += 1;
            self.warn(LOG_FOREIGN, now, || {
                format!("RTP from {from} before the remote is known; dropped")
            });
            return;
        };
        let pkt = match RtpPacket::parse(data) {
            Ok(p) => p,
            Err(e) => {
                MediaStats::add(&self.stats.malformed_packets, 1);
                self.counters.malformed += 1;
                self.warn(LOG_MALFORMED, now, || format!("bad RTP from {from}: {e}"));
                return;
            }
        };
        let verdict = self
            .rtp_latch
            .as_mut()
            .map_or(Verdict::Reject, |l| l.check(from));
        match verdict {
            Verdict::Reject => {
                MediaStats::add(&self.stats.foreign_source_packets, 1);
                self.counters.foreign_source += 1;
                let expected = self.rtp_latch.as_ref().map(|l| l.destination());
                self.warn(LOG_FOREIGN, now, || {
                    format!("RTP from {from}, peer is {expected:?}; dropped (RTP Bleed protection)")
                });
                return;
            }
            Verdict::Latched(addr) => self.emit(MediaEvent::Latched { addr }),
            Verdict::Accept => {}
        }
        let pt = pkt.payload_type;
        let is_event = Some(pt) == media.telephone_event_pt;
        if pt != media.payload_type && !is_event && pt != PT_CN {
            MediaStats::add(&self.stats.wrong_payload_type, 1);
            self.counters.wrong_payload_type += 1;
            self.warn(LOG_WRONG_PT, now, || {
                format!(
                    "RTP payload type {pt} from {from} not negotiated (audio {}); dropped",
                    media.payload_type
                )
            });
            return;
        }
        self.counters.rtp_in += 1;
        self.heard(now);
        self.rx
            .on_packet(pkt.ssrc, pkt.sequence, pkt.timestamp, now);
        if is_event {
            match self.dtmf_rx.on_packet(pkt.timestamp, pkt.payload, now) {
                Ok(started) => {
                    if started {
                        self.barge_in();
                    }
                    self.drain_rfc4733();
                }
                Err(e) => {
                    MediaStats::add(&self.stats.malformed_packets, 1);
                    self.counters.malformed += 1;
                    self.warn(LOG_MALFORMED, now, || {
                        format!("bad telephone-event from {from}: {e}")
                    });
                }
            }
            return;
        }
        if pt == PT_CN {
            return;
        }
        if !self.late.accept(pkt.ssrc, pkt.sequence) {
            MediaStats::add(&self.stats.late_packets, 1);
            self.counters.late += 1;
            return;
        }
        self.on_audio(pkt.payload);
    }

    fn on_audio(&mut self, payload: &[u8]) {
        let codec = self.codec();
        let forward =
            !self.mute && !self.hold && self.media.as_ref().is_some_and(|m| m.direction.receives());
        let to_mixer = forward && self.mixer.is_some();
        let need_pcm = self.inband.is_some() || self.recording.is_some() || to_mixer;
        if need_pcm {
            self.pcm.clear();
            codec.decode(payload, &mut self.pcm);
        }
        if let Some(det) = self.inband.as_mut() {
            let mut found = Vec::new();
            det.feed(&self.pcm, &mut found);
            for d in found {
                self.barge_in();
                self.on_digit(d, DigitSource::InBand);
            }
        }
        if self.recording.is_some() {
            self.party_pcm.extend(self.pcm.iter().copied());
            let excess = self.party_pcm.len().saturating_sub(PARTY_BACKLOG);
            self.party_pcm.drain(..excess);
        }
        if !forward {
            return;
        }
        if let Some(m) = self.mixer.as_ref() {
            self.mix_in.extend_from_slice(&self.pcm);
            let mut mixer = lock(m);
            let mut frame = [0i16; FRAME];
            let mut used = 0;
            while self.mix_in.len() - used >= FRAME {
                frame.copy_from_slice(&self.mix_in[used..used + FRAME]);
                mixer.push(self.setup.id, &frame);
                used += FRAME;
            }
            drop(mixer);
            self.mix_in.drain(..used);
        } else if let Some(peer) = self.peer.as_ref() {
            match peer.push(self.setup.id, codec, payload) {
                Pushed::Transcoded => self.pending.transcoded += 1,
                Pushed::Overflow => MediaStats::add(&self.stats.buffer_overflows, 1),
                Pushed::Relayed | Pushed::NotPeer => {}
            }
        }
    }

    /// The peer is alive (RTP or RTCP from it): the media timeout starts again.
    fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        if self.timed_out {
            self.timed_out = false;
            self.emit(MediaEvent::MediaResumed);
        }
    }

    /// A key press began: stop a prompt that allows barge-in.
    fn barge_in(&mut self) {
        if self.prompt.as_ref().is_some_and(|p| p.barge_in) {
            self.finish_prompt(true);
        }
    }

    pub(super) fn drain_rfc4733(&mut self) {
        while let Some(d) = self.dtmf_rx.next_digit() {
            self.on_digit(d, DigitSource::Rfc4733);
        }
    }

    fn on_digit(&mut self, d: DtmfDigit, source: DigitSource) {
        MediaStats::add(&self.stats.dtmf_digits, 1);
        self.emit(MediaEvent::Digit {
            digit: d.digit,
            duration_ms: d.duration_ms,
            source,
        });
    }

    /// One datagram on the RTCP port.
    pub fn on_rtcp(&mut self, data: &[u8], from: SocketAddr, now: Instant, ntp: u64) {
        let verdict = self
            .rtcp_latch
            .as_mut()
            .map_or(Verdict::Reject, |l| l.check(from));
        if verdict == Verdict::Reject {
            MediaStats::add(&self.stats.foreign_source_packets, 1);
            self.counters.foreign_source += 1;
            self.warn(LOG_FOREIGN, now, || {
                format!("RTCP from unexpected {from}; dropped")
            });
            return;
        }
        let packets = match rtcp::parse_compound(data) {
            Ok(p) => p,
            Err(e) => {
                MediaStats::add(&self.stats.rtcp_malformed, 1);
                self.counters.malformed += 1;
                self.warn(LOG_RTCP, now, || format!("bad RTCP from {from}: {e}"));
                return;
            }
        };
        self.counters.rtcp_in += 1;
        // A recvonly, sendonly or inactive peer still sends RTCP (RFC 3264 §5.1): it is alive.
        self.heard(now);
        let ours = self.out.ssrc();
        let mut about_us = None;
        for p in packets {
            let reports = match p {
                RtcpPacket::SenderReport { info, reports, .. } => {
                    self.remote_sr = Some((rtcp::ntp_middle(info.ntp), now));
                    reports
                }
                RtcpPacket::ReceiverReport { reports, .. } => reports,
                _ => continue,
            };
            if let Some(b) = reports.into_iter().find(|b| b.ssrc == ours) {
                about_us = Some(b);
            }
        }
        if let Some(b) = about_us {
            self.remote = Some(RemoteReport {
                fraction_lost: b.fraction_lost,
                cumulative_lost: b.cumulative_lost,
                jitter_ms: b.jitter / 8,
                rtt: rtcp::round_trip(ntp, &b),
            });
            self.emit(MediaEvent::Rtcp(self.session_stats()));
        }
    }
}
