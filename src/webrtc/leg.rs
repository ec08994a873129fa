//! One browser call leg: its peer connection, state, and lifecycle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

use super::bridge::{self, Bridge, LegStats};
use super::error::GatewayError;
use super::media::parse_answer;
use super::ports::PortLease;

/// Lifecycle of a leg as seen by the call logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// Offer created, no answer yet.
    New,
    /// Answer applied; ICE/DTLS in progress. Also reported while ICE consent is temporarily
    /// lost (webrtc "disconnected"): that either recovers to `Connected` or ends in `Failed`.
    Connecting,
    /// DTLS-SRTP up: media flows.
    Connected,
    /// ICE or DTLS failed, or the browser vanished (consent expired). Call `close`.
    Failed,
    /// `close` was called (or the peer connection closed).
    Closed,
}

impl LegState {
    fn from_pc(s: RTCPeerConnectionState) -> Option<Self> {
        Some(match s {
            RTCPeerConnectionState::New => LegState::New,
            RTCPeerConnectionState::Connecting | RTCPeerConnectionState::Disconnected => {
                LegState::Connecting
            }
            RTCPeerConnectionState::Connected => LegState::Connected,
            RTCPeerConnectionState::Failed => LegState::Failed,
            RTCPeerConnectionState::Closed => LegState::Closed,
            _ => return None,
        })
    }
}

/// Receives the peer connection's events (runs on its driver task; must not block).
pub(crate) struct LegEvents {
    pub(crate) bridge: Arc<Bridge>,
    pub(crate) state_tx: watch::Sender<LegState>,
    pub(crate) gathered_tx: watch::Sender<bool>,
    pub(crate) tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub(crate) closed: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for LegEvents {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered_tx.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(leg = %self.bridge.label, %state, "peer connection state");
        if let Some(s) = LegState::from_pc(state) {
            // Closed is terminal: a late event must not resurrect the leg.
            self.state_tx.send_if_modified(|cur| {
                let change = *cur != s && *cur != LegState::Closed;
                if change {
                    *cur = s;
                }
                change
            });
            match s {
                LegState::Connected => {
                    self.bridge.set_media_ready(true);
                    tracing::info!(leg = %self.bridge.label, "webrtc leg connected");
                }
                LegState::Failed => {
                    self.bridge.set_media_ready(false);
                    tracing::warn!(leg = %self.bridge.label, "webrtc leg failed");
                }
                LegState::Closed => self.bridge.set_media_ready(false),
                _ => {}
            }
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let task = tokio::spawn(bridge::browser_to_engine(track, Arc::clone(&self.bridge)));
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }
}

pub(crate) struct LegInner {
    pub(crate) bridge: Arc<Bridge>,
    pub(crate) pc: Arc<dyn PeerConnection>,
    pub(crate) rtp_addr: SocketAddr,
    pub(crate) state_rx: watch::Receiver<LegState>,
    pub(crate) state_tx: watch::Sender<LegState>,
    pub(crate) tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub(crate) closed: Arc<AtomicBool>,
    pub(crate) answered: AtomicBool,
    pub(crate) port: Mutex<Option<PortLease>>,
}

impl LegInner {
    fn abort_tasks(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}

impl Drop for LegInner {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // Dropped without close(): the driver would otherwise run forever.
        self.abort_tasks();
        self.bridge.take_socket();
        let pc = Arc::clone(&self.pc);
        let port = self.port.lock().ok().and_then(|mut p| p.take());
        let label = Arc::clone(&self.bridge.label);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(err) = pc.close().await {
                    tracing::debug!(leg = %label, %err, "close on drop");
                }
                drop(port);
            });
        }
    }
}

/// A browser leg bridged to a local plain-RTP socket. Cheap to clone; `close` (or dropping
/// the last clone) tears it down.
#[derive(Clone)]
pub struct WebRtcLeg {
    pub(crate) inner: Arc<LegInner>,
}

impl std::fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcLeg")
            .field("label", &self.inner.bridge.label)
            .field("rtp_addr", &self.inner.rtp_addr)
            .field("state", &*self.inner.state_rx.borrow())
            .finish()
    }
}

impl WebRtcLeg {
    /// The local plain-RTP socket: the media engine must send RTP here (and will receive RTP
    /// from here).
    pub fn rtp_addr(&self) -> SocketAddr {
        self.inner.rtp_addr
    }

    /// The label given to [`WebRtcGateway::open`](super::WebRtcGateway::open).
    pub fn label(&self) -> &str {
        &self.inner.bridge.label
    }

    /// Applies the browser's SDP answer. Errors with [`GatewayError::InvalidAnswer`] for a
    /// malformed/unsupported answer (the leg stays `New` and another answer may be tried).
    pub async fn accept_answer(&self, sdp: &str) -> Result<(), GatewayError> {
        let inner = &self.inner;
        let bad_state = |what| GatewayError::BadState {
            label: inner.bridge.label.to_string(),
            what,
        };
        if inner.closed.load(Ordering::Acquire) {
            return Err(bad_state("leg is closed"));
        }
        let (desc, accepted_pts) = parse_answer(sdp)?;
        if inner.answered.swap(true, Ordering::AcqRel) {
            return Err(bad_state("answer already applied"));
        }
        inner.bridge.set_answered_at(Some(Instant::now()));
        if let Err(err) = inner.pc.set_remote_description(desc).await {
            inner.bridge.set_answered_at(None);
            inner.answered.store(false, Ordering::Release);
            return Err(GatewayError::InvalidAnswer(format!(
                "rejected by webrtc stack: {err}"
            )));
        }
        inner.bridge.set_accepted_pts(accepted_pts);
        inner.state_tx.send_if_modified(|s| {
            let change = *s == LegState::New;
            if change {
                *s = LegState::Connecting;
            }
            change
        });
        tracing::debug!(leg = %inner.bridge.label, "answer applied");
        Ok(())
    }

    /// Watch the leg's state.
    pub fn state(&self) -> watch::Receiver<LegState> {
        self.inner.state_rx.clone()
    }

    /// Milliseconds from `accept_answer` to the first RTP packet received from the browser
    /// (None until then).
    pub fn first_media_ms(&self) -> Option<u64> {
        self.inner.bridge.first_media_ms()
    }

    /// Packet counters.
    pub fn stats(&self) -> LegStats {
        self.inner.bridge.stats()
    }

    /// Closes the peer connection, stops both pumps and frees both UDP ports. Idempotent.
    pub async fn close(&self) {
        let inner = &self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let tasks: Vec<_> = inner
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await; // wait until the pumps have dropped their socket handles
        }
        inner.bridge.take_socket();
        if let Err(err) = inner.pc.close().await {
            tracing::debug!(leg = %inner.bridge.label, %err, "peer connection close");
        }
        // The driver has stopped and dropped its socket: the port may be reused.
        if let Ok(mut port) = inner.port.lock() {
            port.take();
        }
        inner.state_tx.send_replace(LegState::Closed);
        tracing::info!(leg = %inner.bridge.label, stats = ?inner.bridge.stats(), "webrtc leg closed");
    }
}
