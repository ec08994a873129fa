//! A "browser" for tests and the bench: a webrtc-rs peer connection that answers the gateway's
//! offer, sends PCMU from a local track and reports every RTP packet it receives.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};
use webrtc::runtime::TokioRuntime;

pub type OnRtp = Arc<dyn Fn(&rtp::Packet) + Send + Sync>;

pub struct Client {
    pub pc: Arc<dyn PeerConnection>,
    pub track: Arc<TrackLocalStaticRTP>,
    pub ssrc: u32,
    pub state: watch::Receiver<RTCPeerConnectionState>,
}

struct Events {
    gathered: watch::Sender<bool>,
    state: watch::Sender<RTCPeerConnectionState>,
    on_rtp: OnRtp,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        if s == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }
    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        self.state.send_replace(s);
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let on_rtp = Arc::clone(&self.on_rtp);
        tokio::spawn(async move {
            while let Some(ev) = track.poll().await {
                match ev {
                    TrackRemoteEvent::OnRtpPacket(p) => on_rtp(&p),
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

pub fn pcmu() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/PCMU".into(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Answers `offer`; returns the client and its complete (non-trickle) SDP answer.
pub async fn answer(
    offer: &str,
    ssrc: u32,
    on_rtp: OnRtp,
) -> anyhow_lite::Result<(Client, String)> {
    let (gathered_tx, mut gathered_rx) = watch::channel(false);
    let (state_tx, state_rx) = watch::channel(RTCPeerConnectionState::New);
    let se = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(true)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_media_engine(helpline::webrtc::media_engine()?)
        .with_setting_engine(se)
        .with_interceptor_registry(webrtc::peer_connection::configure_rtcp_reports(
            webrtc::peer_connection::Registry::new(),
        ))
        .with_runtime(Arc::new(TokioRuntime))
        .with_handler(Arc::new(Events {
            gathered: gathered_tx,
            state: state_tx,
            on_rtp,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("client-{ssrc}"),
        format!("mic-{ssrc}"),
        "mic".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: pcmu(),
            ..Default::default()
        }],
    )));
    // Like a browser: apply the offer, then attach the microphone to the offered transceiver.
    pc.set_remote_description(RTCSessionDescription::offer(offer.to_owned())?)
        .await?;
    pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await?;
    let ans = pc.create_answer(None).await?;
    pc.set_local_description(ans).await?;
    tokio::time::timeout(Duration::from_secs(5), gathered_rx.wait_for(|g| *g)).await??;
    let sdp = pc
        .local_description()
        .await
        .ok_or("no local description")?
        .sdp;
    Ok((
        Client {
            pc,
            track,
            ssrc,
            state: state_rx,
        },
        sdp,
    ))
}

impl Client {
    pub async fn wait_connected(&self, within: Duration) -> anyhow_lite::Result<()> {
        let mut st = self.state.clone();
        tokio::time::timeout(
            within,
            st.wait_for(|s| *s == RTCPeerConnectionState::Connected),
        )
        .await??;
        Ok(())
    }

    /// Sends one RTP packet from the "microphone".
    pub async fn send(
        &self,
        pt: u8,
        seq: u16,
        ts: u32,
        payload: bytes::Bytes,
    ) -> anyhow_lite::Result<()> {
        let pkt = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        self.track.write_rtp(pkt).await?;
        Ok(())
    }
}

/// Tiny boxed-error alias so this file works in tests and the bench without anyhow.
pub mod anyhow_lite {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    pub type Result<T> = std::result::Result<T, Error>;
}
