//! The control handle of one session, used by the call layer from async code. Every method
//! returns at once (a message to the session's worker, applied at its next 20 ms tick); `stats`
//! awaits the reply. Dropping the handle closes the session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::oneshot;

use super::codec::NegotiatedMedia;
use super::events::{SessionId, SessionStats};
use super::leg::{lock, Command};
use super::mixer::{Mixer, Role};
use super::prompts::Prompt;
use super::recorder::RecordingMode;
use super::shared::LegShared;
use super::worker::WorkerMsg;

/// Handle to one media session.
#[derive(Debug)]
pub struct MediaSession {
    id: SessionId,
    local: SocketAddr,
    worker_index: usize,
    worker: mpsc::Sender<WorkerMsg>,
    shared: Arc<LegShared>,
    next_play: AtomicU64,
    closed: AtomicBool,
}

impl std::fmt::Debug for WorkerMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerMsg")
    }
}

impl MediaSession {
    pub(crate) fn new(
        id: SessionId,
        local: SocketAddr,
        worker_index: usize,
        worker: mpsc::Sender<WorkerMsg>,
        shared: Arc<LegShared>,
    ) -> Self {
        MediaSession {
            id,
            local,
            worker_index,
            worker,
            shared,
            next_play: AtomicU64::new(1),
            closed: AtomicBool::new(false),
        }
    }

    fn send(&self, cmd: Command) {
        let _ = self.worker.send(WorkerMsg::Cmd(self.id, cmd));
    }

    /// Session id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The pacing worker serving this session.
    pub fn worker_index(&self) -> usize {
        self.worker_index
    }

    /// Our RTP address for the SDP (advertised IP, even port); RTCP is on port + 1.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Offer/answer result (answer received, or re-INVITE): re-opens symmetric-RTP learning.
    pub fn set_remote(&self, media: NegotiatedMedia) {
        self.send(Command::SetRemote(media));
    }

    /// Plays prompts in order; returns the id that `PromptFinished` will carry. A new `play`
    /// replaces the current one. With `barge_in`, the first key press stops it.
    pub fn play(&self, prompts: Vec<Arc<Prompt>>, barge_in: bool) -> u64 {
        let play_id = self.next_play.fetch_add(1, Ordering::Relaxed);
        self.send(Command::Play {
            play_id,
            prompts,
            barge_in,
        });
        play_id
    }

    /// Stops the current prompt (`PromptFinished { interrupted: true }`).
    pub fn stop_playback(&self) {
        self.send(Command::StopPlayback);
    }

    /// Loops music whenever no prompt, bridge or conference audio plays (waiting in queue).
    pub fn start_music(&self, music: Vec<Arc<Prompt>>) {
        self.send(Command::StartMusic(music));
    }

    /// Stops the music.
    pub fn stop_music(&self) {
        self.send(Command::StopMusic);
    }

    /// Sends digits to the peer (RFC 4733 if negotiated, else in-band tones), 100 ms each.
    pub fn send_dtmf(&self, digits: &str) {
        self.send(Command::SendDtmf(digits.to_owned()));
    }

    /// Turns in-band (Goertzel) digit detection on or off.
    pub fn set_inband_dtmf(&self, on: bool) {
        self.send(Command::InbandDtmf(on));
    }

    /// Hold: this leg hears music (its own, else the engine's hold music) and nobody hears it.
    pub fn set_hold(&self, on: bool) {
        self.send(Command::Hold(on));
    }

    /// Mute: nobody hears this leg.
    pub fn set_mute(&self, on: bool) {
        self.send(Command::Mute(on));
    }

    /// Bridges this leg with `other` both ways: relay without decoding when the codecs match,
    /// through a µ-law ⇄ A-law table when they differ. Replaces any earlier bridge of either.
    pub fn bridge(&self, other: &MediaSession) {
        self.send(Command::Bridge(other.shared.clone()));
        other.send(Command::Bridge(self.shared.clone()));
    }

    /// Ends this leg's side of a bridge (call it on both legs, or bridge them elsewhere).
    pub fn unbridge(&self) {
        self.send(Command::Unbridge);
    }

    /// Joins a conference; while in it, the mix replaces the bridge audio.
    pub fn join_conference(&self, conference: &Conference, role: Role) {
        self.send(Command::JoinMixer(conference.mixer.clone(), role));
    }

    /// Leaves the conference (the bridge, if any, resumes).
    pub fn leave_conference(&self) {
        self.send(Command::LeaveMixer);
    }

    /// Records both directions of this leg to a WAV file (written off the media path).
    pub fn start_recording(&self, path: impl Into<PathBuf>, mode: RecordingMode) {
        self.send(Command::StartRecording {
            path: path.into(),
            mode,
        });
    }

    /// Stops recording; `RecordingFinished` follows.
    pub fn stop_recording(&self) {
        self.send(Command::StopRecording);
    }

    /// Current figures; `None` when the session is gone.
    pub async fn stats(&self) -> Option<SessionStats> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx));
        rx.await.ok()
    }

    /// Closes the session: ports released, `Closed` event with final figures.
    pub fn close(&self) {
        if !self.closed.swap(true, Ordering::Relaxed) {
            let _ = self.worker.send(WorkerMsg::Close(self.id));
        }
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.close();
    }
}

/// A conference (mixer) several sessions can join: supervisor listen / whisper / barge,
/// three-way consult.
#[derive(Debug, Clone, Default)]
pub struct Conference {
    mixer: Arc<Mutex<Mixer>>,
}

impl Conference {
    /// An empty conference.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes a member's role at once (listen → whisper → barge); false if not a member yet.
    pub fn set_role(&self, session: &MediaSession, role: Role) -> bool {
        lock(&self.mixer).set_role(session.id, role)
    }

    /// Members now.
    pub fn len(&self) -> usize {
        lock(&self.mixer).len()
    }

    /// Whether nobody is in.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
