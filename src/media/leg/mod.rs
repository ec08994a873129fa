//! One media session (a call leg) as a sans-socket state machine: fed datagrams, commands and
//! 20 ms ticks with the time passed in, it sends through a [`Transmit`] and reports through its
//! event channel. The worker owns the sockets and the clock; tests drive a leg directly.
//!
//! `rx.rs` handles what arrives (RTP, RTCP, DTMF), `tx.rs` what leaves each tick (prompts, music,
//! bridge/mixer audio, DTMF, RTCP) and the media timeout.

mod rx;
mod tx;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::codec::{Codec, NegotiatedMedia};
use super::dtmf::{DtmfReceiver, DtmfSender};
use super::events::{MediaEvent, RemoteReport, SessionId, SessionStats};
use super::goertzel::InbandDetector;
use super::jitter::{LateFilter, ReceiveStats};
use super::latch::Latch;
use super::mixer::{Mixer, Role};
use super::player::{Player, FRAME};
use super::prompts::Prompt;
use super::ratelog::RateLimit;
use super::recorder::{RecorderTap, RecordingMode};
use super::recwriter::RecWriter;
use super::shared::LegShared;
use super::stats::{MediaStats, PendingStats};
use super::stream::RtpStream;

/// Where a leg's packets go (the worker's sockets, or a test's vector).
pub trait Transmit {
    /// Sends one RTP packet; returns the moment it left (for pacing statistics).
    fn rtp(&mut self, to: SocketAddr, data: &[u8]) -> Instant;
    /// Sends one RTCP packet.
    fn rtcp(&mut self, to: SocketAddr, data: &[u8]);
}

/// A control request from the session handle.
#[derive(Debug)]
pub enum Command {
    /// Offer/answer done (or re-INVITE): peer address, codec, direction; re-opens latching.
    SetRemote(NegotiatedMedia),
    /// Play prompts; a digit stops them when `barge_in`.
    Play {
        /// Id reported in `PromptFinished`.
        play_id: u64,
        /// What to say.
        prompts: Vec<Arc<Prompt>>,
        /// Stop on the first key press.
        barge_in: bool,
    },
    /// Stop the current prompt.
    StopPlayback,
    /// Loop music (queue music on hold) whenever nothing else plays.
    StartMusic(Vec<Arc<Prompt>>),
    /// Stop the music.
    StopMusic,
    /// Send digits (RFC 4733 when negotiated, in-band tones otherwise).
    SendDtmf(String),
    /// Detect digits in the audio too.
    InbandDtmf(bool),
    /// Hold: the leg hears music and is heard by nobody.
    Hold(bool),
    /// Mute: the leg is heard by nobody.
    Mute(bool),
    /// Relay audio with this peer (each side is told separately).
    Bridge(Arc<LegShared>),
    /// End the relay.
    Unbridge,
    /// Take part in a conference with a role.
    JoinMixer(Arc<Mutex<Mixer>>, Role),
    /// Leave the conference (back to the bridge, if any).
    LeaveMixer,
    /// Record to a WAV file.
    StartRecording {
        /// File to write.
        path: PathBuf,
        /// Stereo or mixed.
        mode: RecordingMode,
    },
    /// Stop recording.
    StopRecording,
    /// Current figures.
    Stats(oneshot::Sender<SessionStats>),
}

/// Fixed parameters of a leg.
#[derive(Debug, Clone)]
pub struct LegSetup {
    /// Session id.
    pub id: SessionId,
    /// Free text for logs (the call id).
    pub label: String,
    /// Our SSRC, first sequence number and timestamp base (random).
    pub ssrc: u32,
    /// First sequence number.
    pub first_seq: u16,
    /// Timestamp base.
    pub ts_base: u32,
    /// Packets of latching after each offer/answer.
    pub latch_packets: u32,
    /// Silence from the peer (no RTP and no RTCP) that raises `MediaTimeout`.
    pub media_timeout: Duration,
    /// The same while the stream is inactive (a hold, `c=0.0.0.0`): longer, never off.
    pub hold_timeout: Duration,
    /// Mean RTCP report interval.
    pub rtcp_interval: Duration,
    /// RTCP CNAME.
    pub cname: String,
    /// Played to a held leg that has no music of its own.
    pub hold_music: Arc<Vec<Arc<Prompt>>>,
    /// In-band DTMF detection from the start.
    pub inband_dtmf: bool,
}

pub(crate) enum DtmfOut {
    Event(DtmfSender, u64),
    Tone(Player),
}

pub(crate) struct Playing {
    id: u64,
    player: Player,
    barge_in: bool,
}

pub(crate) struct Recording {
    id: u64,
    tap: RecorderTap,
}

const LOG_MALFORMED: usize = 0;
const LOG_FOREIGN: usize = 1;
const LOG_WRONG_PT: usize = 2;
const LOG_RTCP: usize = 3;
const LOG_PERIOD: Duration = Duration::from_secs(10);

/// One session's media state.
pub struct Leg {
    setup: LegSetup,
    shared: Arc<LegShared>,
    stats: Arc<MediaStats>,
    events: mpsc::Sender<MediaEvent>,
    writer: RecWriter,
    media: Option<NegotiatedMedia>,
    rtp_latch: Option<Latch>,
    rtcp_latch: Option<Latch>,
    out: RtpStream,
    rx: ReceiveStats,
    late: LateFilter,
    dtmf_rx: DtmfReceiver,
    inband: Option<InbandDetector>,
    dtmf_queue: VecDeque<char>,
    dtmf_active: Option<DtmfOut>,
    dtmf_gap: u32,
    prompt: Option<Playing>,
    music: Option<Player>,
    hold_player: Option<Player>,
    hold: bool,
    mute: bool,
    peer: Option<Arc<LegShared>>,
    mixer: Option<Arc<Mutex<Mixer>>>,
    recording: Option<Recording>,
    rec_seq: u64,
    party_pcm: VecDeque<i16>,
    mix_in: Vec<i16>,
    /// Last RTP or RTCP from the peer (media timeout).
    last_heard: Instant,
    timed_out: bool,
    next_rtcp: Instant,
    last_report_tick: u64,
    remote_sr: Option<(u32, Instant)>,
    remote: Option<RemoteReport>,
    lost_reported: u64,
    counters: SessionStats,
    pending: PendingStats,
    logs: [RateLimit; 4],
    last_send: Option<(u64, Instant)>,
    rng: u64,
    pcm: Vec<i16>,
    frame: [i16; FRAME],
    relay: Vec<u8>,
    enc: Vec<u8>,
    pkt: Vec<u8>,
}

pub(crate) fn lock(m: &Mutex<Mixer>) -> std::sync::MutexGuard<'_, Mixer> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Leg {
    /// A leg with no peer yet; `media` may come now (incoming call) or later (outgoing call).
    pub fn new(
        setup: LegSetup,
        media: Option<NegotiatedMedia>,
        stats: Arc<MediaStats>,
        events: mpsc::Sender<MediaEvent>,
        writer: RecWriter,
        now: Instant,
    ) -> Leg {
        let codec = media.as_ref().map_or(Codec::Pcmu, |m| m.codec);
        let shared = Arc::new(LegShared::new(setup.id, codec));
        let rng = setup.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ setup.ssrc as u64;
        let mut leg = Leg {
            out: RtpStream::new(setup.ssrc, setup.first_seq, setup.ts_base, 160),
            inband: setup.inband_dtmf.then(InbandDetector::new),
            next_rtcp: now,
            setup,
            shared,
            stats,
            events,
            writer,
            media: None,
            rtp_latch: None,
            rtcp_latch: None,
            rx: ReceiveStats::new(8000),
            late: LateFilter::default(),
            dtmf_rx: DtmfReceiver::new(8000),
            dtmf_queue: VecDeque::new(),
            dtmf_active: None,
            dtmf_gap: 0,
            prompt: None,
            music: None,
            hold_player: None,
            hold: false,
            mute: false,
            peer: None,
            mixer: None,
            recording: None,
            rec_seq: 0,
            party_pcm: VecDeque::new(),
            mix_in: Vec::new(),
            last_heard: now,
            timed_out: false,
            last_report_tick: 0,
            remote_sr: None,
            remote: None,
            lost_reported: 0,
            counters: SessionStats::default(),
            pending: PendingStats::default(),
            logs: Default::default(),
            last_send: None,
            rng,
            pcm: Vec::with_capacity(FRAME * 2),
            frame: [0; FRAME],
            relay: Vec::with_capacity(FRAME),
            enc: Vec::with_capacity(FRAME),
            pkt: Vec::with_capacity(256),
        };
        leg.schedule_rtcp(now, true);
        if let Some(m) = media {
            leg.set_remote(m, now);
        }
        leg
    }

    /// Session id.
    pub fn id(&self) -> SessionId {
        self.setup.id
    }

    /// The state other sessions use to relay audio to this one.
    pub fn shared(&self) -> Arc<LegShared> {
        self.shared.clone()
    }

    fn codec(&self) -> Codec {
        self.media.as_ref().map_or(Codec::Pcmu, |m| m.codec)
    }

    pub(crate) fn emit(&self, ev: MediaEvent) {
        if self.events.try_send(ev).is_err() {
            MediaStats::add(&self.stats.events_dropped, 1);
        }
    }

    pub(crate) fn warn(&mut self, kind: usize, now: Instant, what: impl FnOnce() -> String) {
        if let Some(suppressed) = self
            .logs
            .get_mut(kind)
            .and_then(|l| l.allow(now, LOG_PERIOD))
        {
            tracing::warn!(session = self.setup.id, call = %self.setup.label, suppressed, "{}", what());
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: enough to spread RTCP reports, not for security.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn schedule_rtcp(&mut self, now: Instant, first: bool) {
        // RFC 3550 §6.3.5: randomise to [0.5, 1.5] × interval; the first report comes sooner.
        let base = self.setup.rtcp_interval.as_millis() as u64;
        let base = if first { base / 2 } else { base };
        let r = self.next_random() % 1000;
        let ms = base / 2 + base * r / 1000;
        self.next_rtcp = now + Duration::from_millis(ms.max(1));
    }

    fn set_remote(&mut self, media: NegotiatedMedia, now: Instant) {
        let window = self.setup.latch_packets;
        let rtp = self
            .rtp_latch
            .get_or_insert_with(|| Latch::new(media.remote, window));
        rtp.restart(media.remote);
        rtp.pin(media.peer_ip);
        let rtcp = self
            .rtcp_latch
            .get_or_insert_with(|| Latch::new(media.rtcp_addr(), window));
        rtcp.restart(media.rtcp_addr());
        rtcp.pin(media.peer_ip);
        if self.media.as_ref().map(|m| m.codec) != Some(media.codec) {
            self.shared
                .set_source(self.peer.as_ref().map(|p| p.id), media.codec);
        }
        self.late.reset();
        self.last_heard = now;
        self.timed_out = false;
        self.media = Some(media);
    }

    fn finish_prompt(&mut self, interrupted: bool) {
        if let Some(p) = self.prompt.take() {
            self.emit(MediaEvent::PromptFinished {
                play_id: p.id,
                interrupted,
            });
        }
    }

    fn leave_mixer(&mut self) {
        if let Some(m) = self.mixer.take() {
            lock(&m).leave(self.setup.id);
        }
        self.mix_in.clear();
    }

    fn stop_recording(&mut self) {
        if let Some(mut r) = self.recording.take() {
            self.writer.data(r.id, r.tap.finish());
            self.writer.close(r.id, r.tap.duration_ms());
            self.stats
                .active_recordings
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.party_pcm.clear();
    }

    /// Applies a control request.
    pub fn apply(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::SetRemote(m) => self.set_remote(m, now),
            Command::Play {
                play_id,
                prompts,
                barge_in,
            } => {
                self.finish_prompt(true);
                self.prompt = Some(Playing {
                    id: play_id,
                    player: Player::once(prompts),
                    barge_in,
                });
            }
            Command::StopPlayback => self.finish_prompt(true),
            Command::StartMusic(prompts) => self.music = Some(Player::looping(prompts)),
            Command::StopMusic => self.music = None,
            Command::SendDtmf(digits) => {
                let valid = digits
                    .chars()
                    .filter(|c| super::dtmf::digit_to_event(*c).is_some());
                self.dtmf_queue.extend(valid);
            }
            Command::InbandDtmf(on) => {
                self.inband = on.then(|| self.inband.take().unwrap_or_default());
            }
            Command::Hold(on) => {
                self.hold = on;
                self.hold_player = (on && !self.setup.hold_music.is_empty())
                    .then(|| Player::looping(self.setup.hold_music.to_vec()));
            }
            Command::Mute(on) => self.mute = on,
            Command::Bridge(peer) => {
                self.shared.set_source(Some(peer.id), self.codec());
                self.peer = Some(peer);
            }
            Command::Unbridge => {
                self.shared.set_source(None, self.codec());
                self.peer = None;
            }
            Command::JoinMixer(m, role) => {
                if !self.mixer.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &m)) {
                    self.leave_mixer();
                }
                lock(&m).join(self.setup.id, role);
                self.mixer = Some(m);
            }
            Command::LeaveMixer => self.leave_mixer(),
            Command::StartRecording { path, mode } => {
                self.stop_recording();
                self.rec_seq += 1;
                let id = (self.setup.id << 16) | (self.rec_seq & 0xFFFF);
                self.writer
                    .open(id, path, mode.channels(), self.events.clone());
                self.recording = Some(Recording {
                    id,
                    tap: RecorderTap::new(mode, 50),
                });
                MediaStats::add(&self.stats.active_recordings, 1);
            }
            Command::StopRecording => self.stop_recording(),
            Command::Stats(reply) => {
                let _ = reply.send(self.session_stats());
            }
        }
    }

    /// Figures so far.
    pub fn session_stats(&self) -> SessionStats {
        let receive = self.rx.snapshot();
        SessionStats {
            receive,
            jitter_ms: receive.jitter / 8,
            remote: self.remote,
            peer: self.rtp_latch.as_ref().map(Latch::destination),
            ..self.counters.clone()
        }
    }

    /// Adds this leg's hot-path counts to the engine counters (the worker calls it every second).
    pub fn flush_stats(&mut self) {
        self.pending.flush(&self.stats);
    }

    /// Closes the leg: leaves any conference, finishes the recording, reports final figures.
    pub fn close(&mut self) {
        self.flush_stats();
        self.finish_prompt(true);
        self.leave_mixer();
        self.stop_recording();
        self.account_loss();
        self.emit(MediaEvent::Closed(self.session_stats()));
    }

    fn account_loss(&mut self) {
        let lost = self.rx.snapshot().cumulative_lost.max(0) as u64;
        if lost > self.lost_reported {
            MediaStats::add(&self.stats.packets_lost, lost - self.lost_reported);
            self.lost_reported = lost;
        }
    }
}

#[cfg(test)]
mod tests;
