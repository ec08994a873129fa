//! The gateway: shared WebRTC settings plus `open`, which creates a leg and its SDP offer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, RTCConfiguration, SettingEngine,
};
use webrtc::runtime::TokioRuntime;

use super::bridge::{self, Bridge};
use super::config::GatewayConfig;
use super::error::GatewayError;
use super::leg::{LegEvents, LegInner, LegState, WebRtcLeg};
use super::media;
use super::ports::PortPool;

/// How long `open` waits for ICE gathering (host candidates only: normally < 10 ms).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// Ports tried per `open` when the webrtc driver cannot bind the one we probed.
const BIND_ATTEMPTS: u32 = 8;

/// Creates WebRTC legs. One per process; cheap to share behind an `Arc`.
///
/// Holds what every leg shares: the media engine (codec table), the setting engine (ICE-lite,
/// crypto provider), the RTC configuration (one DTLS certificate) and the port pool.
pub struct WebRtcGateway {
    cfg: GatewayConfig,
    media_engine: MediaEngine,
    setting_engine: SettingEngine,
    rtc_config: RTCConfiguration,
    ports: Arc<PortPool>,
    ssrc_seed: AtomicU32,
}

impl std::fmt::Debug for WebRtcGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcGateway")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl WebRtcGateway {
    /// Validates `cfg` and prepares the shared WebRTC settings (generates the certificate).
    pub fn new(cfg: GatewayConfig) -> Result<Self, GatewayError> {
        cfg.validate()?;
        let provider = webrtc::peer_connection::crypto::default_provider()
            .map_err(|e| GatewayError::Config(format!("no crypto provider: {e}")))?;
        let mut setting_engine = media::setting_engine(cfg.bind_ip, cfg.ice_lite);
        setting_engine.set_crypto_provider(provider);
        let rtc_config = media::rtc_configuration(media::certificate()?);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(16))
            .unwrap_or(0x5eed);
        Ok(Self {
            ports: PortPool::new(cfg.bind_ip, cfg.udp_port_min, cfg.udp_port_max),
            media_engine: media::media_engine()?,
            setting_engine,
            rtc_config,
            cfg,
            ssrc_seed: AtomicU32::new(seed),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &GatewayConfig {
        &self.cfg
    }

    /// Browser-facing ports currently free.
    pub fn free_ports(&self) -> usize {
        self.ports.free_count()
    }

    /// New leg: `media_peer` is where our media engine's RTP session listens. Returns the leg
    /// and the SDP offer for the browser (complete: all candidates included, no trickle).
    pub async fn open(
        &self,
        label: &str,
        media_peer: SocketAddr,
    ) -> Result<(WebRtcLeg, String), GatewayError> {
        let label: Arc<str> = Arc::from(label);
        let rtp_socket =
            Arc::new(UdpSocket::bind(SocketAddr::new(self.rtp_bind_ip(media_peer), 0)).await?);
        let rtp_addr = rtp_socket.local_addr()?;

        let bridge = Arc::new(Bridge::new(Arc::clone(&label), media_peer, rtp_socket));
        let (state_tx, state_rx) = watch::channel(LegState::New);
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));

        // The driver binds the port itself; another socket (e.g. an OS-assigned ephemeral
        // port) can take it between our probe and that bind, so try a few ports.
        let mut attempt = 0;
        let (pc, lease, mut gathered_rx) = loop {
            attempt += 1;
            let lease = self.ports.acquire()?;
            let (gathered_tx, gathered_rx) = watch::channel(false);
            let events = LegEvents {
                bridge: Arc::clone(&bridge),
                state_tx: state_tx.clone(),
                gathered_tx,
                tasks: Arc::clone(&tasks),
                closed: Arc::clone(&closed),
            };
            let built = PeerConnectionBuilder::new()
                .with_configuration(self.rtc_config.clone())
                .with_media_engine(self.media_engine.clone())
                .with_setting_engine(self.setting_engine.clone())
                .with_interceptor_registry(media::interceptors())
                .with_runtime(Arc::new(TokioRuntime))
                .with_handler(Arc::new(events))
                .with_udp_addrs(vec![SocketAddr::new(self.cfg.bind_ip, lease.port())])
                .build()
                .await;
            match built {
                Ok(pc) => break (pc, lease, gathered_rx),
                Err(err) if attempt < BIND_ATTEMPTS => {
                    tracing::debug!(leg = %label, port = lease.port(), %err, "webrtc bind failed, next port");
                }
                Err(source) => {
                    return Err(GatewayError::WebRtc {
                        op: "build peer connection",
                        source,
                    });
                }
            }
        };
        let ice_addr = SocketAddr::new(self.cfg.bind_ip, lease.port());
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        // From here on, dropping `leg` (any `?` below) closes the peer connection.
        let leg = WebRtcLeg {
            inner: Arc::new(LegInner {
                bridge: Arc::clone(&bridge),
                pc: Arc::clone(&pc),
                rtp_addr,
                state_rx,
                state_tx,
                tasks: Arc::clone(&tasks),
                closed,
                answered: AtomicBool::new(false),
                port: Mutex::new(Some(lease)),
            }),
        };

        let ssrc = self.next_ssrc();
        let track = Arc::new(TrackLocalStaticRTP::new(media::local_track(
            &id_safe(&label),
            ssrc,
        )));
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(GatewayError::webrtc("add track"))?;
        // add_track narrows the transceiver to the track's one codec: offer (and accept to
        // send) all three instead.
        for t in pc.get_transceivers().await {
            t.set_codec_preferences(media::offered_codecs())
                .await
                .map_err(GatewayError::webrtc("set codec preferences"))?;
        }

        let offer = pc
            .create_offer(None)
            .await
            .map_err(GatewayError::webrtc("create offer"))?;
        pc.set_local_description(offer)
            .await
            .map_err(GatewayError::webrtc("set local description"))?;
        tokio::time::timeout(GATHER_TIMEOUT, gathered_rx.wait_for(|done| *done))
            .await
            .map_err(|_| GatewayError::Timeout("ICE gathering"))?
            .map_err(|_| GatewayError::Timeout("ICE gathering (handler gone)"))?;
        let sdp = pc
            .local_description()
            .await
            .map(|d| media::advertise_public_ip(&d.sdp, self.cfg.bind_ip, self.cfg.public_ip))
            .ok_or(GatewayError::Timeout("local description"))?;

        let pump = tokio::spawn(bridge::engine_to_browser(track, ssrc, Arc::clone(&bridge)));
        if let Ok(mut t) = tasks.lock() {
            t.push(pump);
        }
        tracing::info!(leg = %label, %ice_addr, %rtp_addr, %media_peer, "webrtc leg opened");
        Ok((leg, sdp))
    }

    /// Local address for the plain-RTP socket: loopback when the media engine is local,
    /// otherwise `bind_ip` (or any address of the media engine's family).
    fn rtp_bind_ip(&self, media_peer: SocketAddr) -> IpAddr {
        match media_peer.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            peer if peer.is_ipv4() == self.cfg.bind_ip.is_ipv4() => self.cfg.bind_ip,
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    fn next_ssrc(&self) -> u32 {
        // xorshift over a per-gateway seed: distinct, unpredictable-enough SSRCs.
        let mut x = self.ssrc_seed.fetch_add(0x9E37_79B9, Ordering::Relaxed) | 1;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    }
}

/// Track/stream ids go into `a=msid`: keep them to token characters.
fn id_safe(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    if s.is_empty() {
        "leg".into()
    } else {
        s
    }
}
