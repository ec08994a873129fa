//! What we offer: audio-only G.711 + RFC 4733 DTMF, and the webrtc engine settings behind it.
//!
//! Payload types are fixed (0 / 8 / 101) and identical on both sides of the gateway, so RTP is
//! forwarded without any payload-type mapping.

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use std::net::IpAddr;

use webrtc::peer_connection::{
    configure_rtcp_reports, crypto, MediaEngine, RTCBundlePolicy, RTCCertificate, RTCConfiguration,
    RTCConfigurationBuilder, RTCRtcpMuxPolicy, RTCSessionDescription, Registry, SettingEngine,
    SettingEngineBuilder,
};

use super::error::GatewayError;

/// G.711 µ-law.
pub const PT_PCMU: u8 = 0;
/// G.711 A-law.
pub const PT_PCMA: u8 = 8;
/// RFC 4733 telephone-event/8000.
pub const PT_TELEPHONE_EVENT: u8 = 101;

/// Bit of `pt` in a negotiated-payload-type mask (0 for payload types we never forward).
pub(crate) fn pt_bit(pt: u8) -> u8 {
    match pt {
        PT_PCMU => 1,
        PT_PCMA => 2,
        PT_TELEPHONE_EVENT => 4,
        _ => 0,
    }
}

fn codec(mime: &str, fmtp: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    }
}

/// The codec the local track is declared with (the first one offered).
pub(crate) fn pcmu() -> RTCRtpCodec {
    codec(
        rtc::peer_connection::configuration::media_engine::MIME_TYPE_PCMU,
        "",
    )
}

/// PCMU (0), PCMA (8), telephone-event (101): the offered codecs, in preference order.
pub(crate) fn offered_codecs() -> Vec<RTCRtpCodecParameters> {
    use rtc::peer_connection::configuration::media_engine::{
        MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
    };
    [
        (MIME_TYPE_PCMU, PT_PCMU, ""),
        (MIME_TYPE_PCMA, PT_PCMA, ""),
        (MIME_TYPE_TELEPHONE_EVENT, PT_TELEPHONE_EVENT, "0-16"),
    ]
    .into_iter()
    .map(|(mime, pt, fmtp)| RTCRtpCodecParameters {
        rtp_codec: codec(mime, fmtp),
        payload_type: pt,
    })
    .collect()
}

/// Media engine with exactly PCMU/8000 (0), PCMA/8000 (8), telephone-event/8000 (101), in
/// that preference order. No header extensions are registered, so RTP arrives without any.
pub fn media_engine() -> Result<MediaEngine, GatewayError> {
    let mut me = MediaEngine::default();
    for c in offered_codecs() {
        me.register_codec(c, RtpCodecKind::Audio)
            .map_err(GatewayError::webrtc("register codec"))?;
    }
    Ok(me)
}

/// RTCP sender/receiver reports only: no NACK/TWCC (useless for G.711 audio, and CPU).
pub(crate) fn interceptors() -> Registry {
    configure_rtcp_reports(Registry::new())
}

/// One self-signed ECDSA P-256 certificate shared by every leg (one key generation per
/// gateway instead of one per call; the fingerprint is the same for all legs, like a browser
/// reusing its certificate).
pub(crate) fn certificate() -> Result<RTCCertificate, GatewayError> {
    use rtc::peer_connection::certificate::CertificateParams;
    let provider = crypto::default_provider()
        .map_err(|e| GatewayError::Config(format!("no crypto provider: {e}")))?;
    let params = CertificateParams::new(vec!["helpline".to_owned()])
        .map_err(|e| GatewayError::Config(format!("certificate params: {e}")))?;
    RTCCertificate::generate(
        provider.crypto(),
        crypto::SignatureScheme::EcdsaP256Sha256,
        params,
    )
    .map_err(GatewayError::webrtc("generate certificate"))
}

/// Peer-connection configuration: no STUN/TURN (we are the public side), BUNDLE, rtcp-mux.
pub(crate) fn rtc_configuration(cert: RTCCertificate) -> RTCConfiguration {
    RTCConfigurationBuilder::new()
        .with_bundle_policy(RTCBundlePolicy::MaxBundle)
        .with_rtcp_mux_policy(RTCRtcpMuxPolicy::Require)
        .with_certificates(vec![cert])
        .build()
}

/// Host candidates only (no STUN/TURN configured), no mDNS, ICE-lite if asked.
///
/// (`with_nat_1to1_ips` exists in webrtc 0.21.1 but nothing reads it, so the public address
/// is put into the offer by [`advertise_public_ip`] instead.)
pub(crate) fn setting_engine(bind_ip: IpAddr, ice_lite: bool) -> SettingEngine {
    SettingEngineBuilder::new()
        .with_lite(ice_lite)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(bind_ip.is_loopback())
        .build()
}

/// 1:1 NAT: rewrites the host candidates of `sdp` from the bound address to `public_ip`.
///
/// With a wildcard `bind_ip` every host candidate is rewritten and duplicates (same port) are
/// dropped. Only the SDP text the browser sees changes: the browser's checks arrive (NATed) on
/// the bound socket, which is what the local candidate already describes.
pub(crate) fn advertise_public_ip(sdp: &str, bind_ip: IpAddr, public_ip: IpAddr) -> String {
    if bind_ip == public_ip {
        return sdp.to_owned();
    }
    let public = public_ip.to_string();
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        if let Some(cand) = body.strip_prefix("a=candidate:") {
            let mut f: Vec<&str> = cand.split(' ').collect();
            // foundation component transport priority address port "typ" type ...
            let is_host = f.get(6) == Some(&"typ") && f.get(7) == Some(&"host");
            let ours = f
                .get(4)
                .and_then(|a| a.parse::<IpAddr>().ok())
                .is_some_and(|a| {
                    a == bind_ip || (bind_ip.is_unspecified() && a.is_ipv4() == bind_ip.is_ipv4())
                });
            if is_host && ours {
                f[4] = &public;
                let key = (
                    f.get(1).copied().unwrap_or(""),
                    f.get(5).copied().unwrap_or(""),
                );
                if !seen.insert((key.0.to_owned(), key.1.to_owned())) {
                    continue;
                }
                out.push_str("a=candidate:");
                out.push_str(&f.join(" "));
                out.push_str(&line[body.len()..]);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// The local (gateway → browser) audio track description with a fixed SSRC.
pub(crate) fn local_track(label: &str, ssrc: u32) -> MediaStreamTrack {
    MediaStreamTrack::new(
        format!("helpline-{label}"),
        format!("audio-{label}"),
        format!("helpline audio {label}"),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: pcmu(),
            ..Default::default()
        }],
    )
}

/// Parses and sanity-checks the browser's answer before it reaches the stack, so a bad answer
/// is reported as a clear [`GatewayError::InvalidAnswer`]. Also returns the mask
/// ([`pt_bit`]) of our payload types the answer accepted: only those are sent to the browser.
pub fn parse_answer(sdp: &str) -> Result<(RTCSessionDescription, u8), GatewayError> {
    let bad = |m: String| GatewayError::InvalidAnswer(m);
    if sdp.trim().is_empty() {
        return Err(bad("empty SDP".into()));
    }
    let desc = RTCSessionDescription::answer(sdp.to_owned())
        .map_err(|e| bad(format!("unparseable SDP: {e}")))?;
    let parsed = desc
        .unmarshal()
        .map_err(|e| bad(format!("unparseable SDP: {e}")))?;
    let audio = parsed
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "audio")
        .ok_or_else(|| bad("no m=audio section".into()))?;
    if audio.media_name.port.value == 0 {
        return Err(bad("audio section rejected (port 0)".into()));
    }
    let accepted = audio
        .media_name
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .fold(0u8, |m, pt| m | pt_bit(pt));
    if accepted & (pt_bit(PT_PCMU) | pt_bit(PT_PCMA)) == 0 {
        return Err(bad(format!(
            "no PCMU (0) or PCMA (8) in answer, got formats {:?}",
            audio.media_name.formats
        )));
    }
    // Attributes may sit at session or media level.
    let attr = |key: &str| -> Option<String> {
        audio
            .attribute(key)
            .map(|v| v.unwrap_or_default().to_owned())
            .or_else(|| {
                parsed
                    .attributes
                    .iter()
                    .find(|a| a.key == key)
                    .map(|a| a.value.clone().unwrap_or_default())
            })
    };
    for key in ["ice-ufrag", "ice-pwd", "fingerprint"] {
        if attr(key).is_none_or(|v| v.trim().is_empty()) {
            return Err(bad(format!("missing a={key}")));
        }
    }
    if let Some(setup) = attr("setup").filter(|s| *s != "active" && *s != "passive") {
        return Err(bad(format!(
            "a=setup:{setup} is not valid in an answer (active|passive)"
        )));
    }
    if attr("ice-lite").is_some() {
        return Err(bad(
            "answerer is ICE-lite too: one side must run full ICE".into()
        ));
    }
    Ok((desc, accepted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ip_replaces_host_candidates() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n\
                   a=candidate:1 2 udp 2130706431 10.0.0.5 40000 typ host\r\n\
                   a=candidate:2 1 udp 1694498815 9.9.9.9 5000 typ srflx raddr 10.0.0.5 rport 40000\r\n";
        let out = advertise_public_ip(
            sdp,
            "10.0.0.5".parse().unwrap(),
            "203.0.113.7".parse().unwrap(),
        );
        assert_eq!(
            out,
            "v=0\r\na=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host\r\n\
             a=candidate:1 2 udp 2130706431 203.0.113.7 40000 typ host\r\n\
             a=candidate:2 1 udp 1694498815 9.9.9.9 5000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
        );
        let wild = "a=candidate:1 1 udp 1 10.0.0.5 40000 typ host\r\na=candidate:2 1 udp 1 172.16.0.9 40000 typ host\r\n";
        let out = advertise_public_ip(
            wild,
            "0.0.0.0".parse().unwrap(),
            "203.0.113.7".parse().unwrap(),
        );
        assert_eq!(out, "a=candidate:1 1 udp 1 203.0.113.7 40000 typ host\r\n");
        assert_eq!(
            advertise_public_ip(
                sdp,
                "10.0.0.5".parse().unwrap(),
                "10.0.0.5".parse().unwrap()
            ),
            sdp
        );
    }
}
