//! The two RTP pumps of a leg: browser track → plain RTP socket, plain RTP socket → browser track.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::rtp;
use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
use tokio::net::UdpSocket;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::media::pt_bit;

const NO_MEDIA: u64 = u64::MAX;

/// Packet counters of one leg (monotonic).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LegStats {
    /// RTP packets received from the browser and sent to the media engine.
    pub to_engine: u64,
    /// RTP packets received from the media engine and handed to the browser track.
    pub to_browser: u64,
    /// Datagrams from the media engine side that were dropped (not RTP, RTCP, wrong source,
    /// unsupported payload type, or the browser leg was not ready yet).
    pub dropped_from_engine: u64,
}

/// State shared by the pumps, the event handler and the leg handle.
#[derive(Debug)]
pub(crate) struct Bridge {
    pub(crate) label: Arc<str>,
    pub(crate) media_peer: SocketAddr,
    /// Taken (set to `None`) on close so the socket is freed once the pumps are aborted.
    socket: Mutex<Option<Arc<UdpSocket>>>,
    answered_at: Mutex<Option<Instant>>,
    /// Payload types the browser accepted (mask of `pt_bit`); 0 until the answer is applied.
    accepted_pts: AtomicU8,
    /// DTLS-SRTP is up (peer connection `connected`): writing before that only makes the
    /// stack log a warning per packet.
    media_ready: AtomicBool,
    first_media_ms: AtomicU64,
    to_engine: AtomicU64,
    to_browser: AtomicU64,
    dropped_from_engine: AtomicU64,
}

impl Bridge {
    pub(crate) fn new(label: Arc<str>, media_peer: SocketAddr, socket: Arc<UdpSocket>) -> Self {
        Self {
            label,
            media_peer,
            socket: Mutex::new(Some(socket)),
            answered_at: Mutex::new(None),
            accepted_pts: AtomicU8::new(0),
            media_ready: AtomicBool::new(false),
            first_media_ms: AtomicU64::new(NO_MEDIA),
            to_engine: AtomicU64::new(0),
            to_browser: AtomicU64::new(0),
            dropped_from_engine: AtomicU64::new(0),
        }
    }

    pub(crate) fn socket(&self) -> Option<Arc<UdpSocket>> {
        self.socket.lock().ok().and_then(|s| s.clone())
    }

    pub(crate) fn take_socket(&self) -> Option<Arc<UdpSocket>> {
        self.socket.lock().ok().and_then(|mut s| s.take())
    }

    pub(crate) fn set_answered_at(&self, at: Option<Instant>) {
        if let Ok(mut a) = self.answered_at.lock() {
            *a = at;
        }
    }

    pub(crate) fn set_accepted_pts(&self, mask: u8) {
        self.accepted_pts.store(mask, Ordering::Release);
    }

    pub(crate) fn set_media_ready(&self, ready: bool) {
        self.media_ready.store(ready, Ordering::Release);
    }

    pub(crate) fn first_media_ms(&self) -> Option<u64> {
        match self.first_media_ms.load(Ordering::Relaxed) {
            NO_MEDIA => None,
            ms => Some(ms),
        }
    }

    pub(crate) fn stats(&self) -> LegStats {
        LegStats {
            to_engine: self.to_engine.load(Ordering::Relaxed),
            to_browser: self.to_browser.load(Ordering::Relaxed),
            dropped_from_engine: self.dropped_from_engine.load(Ordering::Relaxed),
        }
    }

    fn note_first_media(&self) {
        if self.first_media_ms.load(Ordering::Relaxed) != NO_MEDIA {
            return;
        }
        let since = self.answered_at.lock().ok().and_then(|a| *a);
        let ms = since.map_or(0, |t| t.elapsed().as_millis() as u64);
        if self
            .first_media_ms
            .compare_exchange(NO_MEDIA, ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::info!(leg = %self.label, ms, "first RTP from browser");
        }
    }

    fn drop_from_engine(&self, why: &'static str) {
        self.dropped_from_engine.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(leg = %self.label, why, "dropped datagram from media engine");
    }
}

/// Browser → media engine: every RTP packet of the remote track is re-serialised (it arrives
/// SRTP-decrypted) and sent as plain RTP to `media_peer`. Payload type, SSRC, sequence and
/// timestamp are the browser's.
pub(crate) async fn browser_to_engine(track: Arc<dyn TrackRemote>, bridge: Arc<Bridge>) {
    let Some(socket) = bridge.socket() else {
        return;
    };
    let mut buf = vec![0u8; 1500];
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(mut pkt) => {
                bridge.note_first_media();
                if pkt.header.extension {
                    pkt.header.extension = false;
                    pkt.header.extensions.clear();
                }
                let size = pkt.marshal_size();
                if buf.len() < size {
                    buf.resize(size, 0);
                }
                let n = match pkt.marshal_to(&mut buf) {
                    Ok(n) => n,
                    Err(err) => {
                        tracing::debug!(leg = %bridge.label, %err, "cannot re-serialise RTP");
                        continue;
                    }
                };
                match socket.send_to(&buf[..n], bridge.media_peer).await {
                    Ok(_) => {
                        bridge.to_engine.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        tracing::debug!(leg = %bridge.label, %err, "send to media engine failed")
                    }
                }
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
    tracing::debug!(leg = %bridge.label, "browser track ended");
}

/// Media engine → browser: plain RTP arriving on the leg's socket from `media_peer`'s address
/// is written to the local track. The payload type is kept (0/8/101 when the browser accepted
/// it, others dropped); SSRC is
/// replaced by the track's, and sequence/timestamp stay continuous across a change of source
/// SSRC on the engine side (re-INVITE, transfer) so the browser's jitter buffer is not reset.
pub(crate) async fn engine_to_browser(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    bridge: Arc<Bridge>,
) {
    let Some(socket) = bridge.socket() else {
        return;
    };
    let mut buf = vec![0u8; 1500];
    let mut continuity = Continuity::default();
    let mut errors = 0u32;
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => {
                errors = 0;
                r
            }
            Err(err) => {
                // ICMP-induced errors (nobody listening yet) are transient; anything else
                // persistent ends the pump instead of spinning.
                errors += 1;
                tracing::debug!(leg = %bridge.label, %err, "rtp socket recv error");
                if errors > 50 {
                    tracing::warn!(leg = %bridge.label, %err, "rtp socket keeps failing, stopping");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if from.ip() != bridge.media_peer.ip() {
            bridge.drop_from_engine("foreign source");
            continue;
        }
        let data = &buf[..n];
        if n < 12 || data[0] >> 6 != 2 {
            bridge.drop_from_engine("not RTP");
            continue;
        }
        if (192..=223).contains(&data[1]) {
            bridge.drop_from_engine("RTCP");
            continue;
        }
        let mut raw = data;
        let mut pkt = match rtp::Packet::unmarshal(&mut raw) {
            Ok(p) => p,
            Err(_) => {
                bridge.drop_from_engine("malformed RTP");
                continue;
            }
        };
        if !bridge.media_ready.load(Ordering::Acquire) {
            bridge.drop_from_engine("browser leg not connected yet");
            continue;
        }
        let bit = pt_bit(pkt.header.payload_type);
        if bit == 0 || bridge.accepted_pts.load(Ordering::Acquire) & bit == 0 {
            // Never hand the stack a payload type the browser did not accept (it would log
            // an error per packet); before the answer nothing is accepted.
            bridge.drop_from_engine("payload type not negotiated");
            continue;
        }
        continuity.apply(&mut pkt.header);
        pkt.header.ssrc = ssrc;
        pkt.header.extension = false;
        pkt.header.extensions.clear();
        match track.write_rtp(pkt).await {
            Ok(()) => {
                bridge.to_browser.fetch_add(1, Ordering::Relaxed);
            }
            // Before the DTLS handshake is done the track is not bound yet.
            Err(_) => bridge.drop_from_engine("browser leg not ready"),
        }
    }
}

/// Keeps outgoing sequence numbers and timestamps continuous when the source SSRC changes.
#[derive(Debug, Default)]
struct Continuity {
    src_ssrc: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last_seq: u16,
    last_ts: u32,
}

impl Continuity {
    fn apply(&mut self, h: &mut rtp::header::Header) {
        if self.src_ssrc.is_some_and(|prev| prev != h.ssrc) {
            self.seq_offset = self
                .last_seq
                .wrapping_add(1)
                .wrapping_sub(h.sequence_number);
            // one 20 ms G.711 frame later
            self.ts_offset = self.last_ts.wrapping_add(160).wrapping_sub(h.timestamp);
            h.marker = true;
        }
        self.src_ssrc = Some(h.ssrc);
        h.sequence_number = h.sequence_number.wrapping_add(self.seq_offset);
        h.timestamp = h.timestamp.wrapping_add(self.ts_offset);
        self.last_seq = h.sequence_number;
        self.last_ts = h.timestamp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuity_across_ssrc_change() {
        let mut c = Continuity::default();
        let mut h = rtp::header::Header {
            ssrc: 1,
            sequence_number: 100,
            timestamp: 1000,
            ..Default::default()
        };
        c.apply(&mut h);
        assert_eq!((h.sequence_number, h.timestamp), (100, 1000));
        let mut h = rtp::header::Header {
            ssrc: 2,
            sequence_number: 7,
            timestamp: 50,
            ..Default::default()
        };
        c.apply(&mut h);
        assert_eq!(
            (h.sequence_number, h.timestamp, h.marker),
            (101, 1160, true)
        );
        let mut h = rtp::header::Header {
            ssrc: 2,
            sequence_number: 8,
            timestamp: 210,
            ..Default::default()
        };
        c.apply(&mut h);
        assert_eq!((h.sequence_number, h.timestamp), (102, 1320));
    }
}
