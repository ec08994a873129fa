//! The same load through rtpengine: each call is set up with an ng `offer` (caller's SDP) and
//! `answer` (callee's SDP), then the two phones send to the ports rtpengine gave them. With
//! `--transcode 1`, every other call is offered with `codec: { transcode: [PCMA] }` and the callee
//! answers PCMA only, so rtpengine transcodes µ-law ⇄ A-law for it (userspace, no kernel module).

use super::ng::{phone_sdp, sdp_target, NgClient};
use super::{Args, Phone};
use helpline::media::Codec;
use std::net::{SocketAddr, UdpSocket};

/// One call known to rtpengine: its call-id and from-tag, for `delete`.
pub struct RelayedCall {
    call_id: String,
    from_tag: String,
}

/// Sets up `a.calls` calls; returns the phones (caller, callee per call) and the calls.
pub fn setup(a: &Args, addr: SocketAddr) -> Result<(Vec<Phone>, Vec<RelayedCall>), String> {
    let mut ng = NgClient::new(addr).map_err(|e| e.to_string())?;
    let run = std::process::id();
    let mut phones = Vec::with_capacity(2 * a.calls);
    let mut calls = Vec::with_capacity(a.calls);
    for i in 0..a.calls {
        let transcode = a.transcode && i % 2 == 0;
        let callee_codec = if transcode { Codec::Pcma } else { Codec::Pcmu };
        let sa = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let sb = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let (call_id, from_tag, to_tag) =
            (format!("bench-{run}-{i}"), format!("a{i}"), format!("b{i}"));
        let caller_sdp = phone_sdp(sa.local_addr().map_err(|e| e.to_string())?, &[0]);
        let offered = ng.offer(
            &call_id,
            &from_tag,
            &caller_sdp,
            transcode.then_some("PCMA"),
        )?;
        let (to_callee_side, _) = sdp_target(&offered)
            .ok_or_else(|| format!("call {i}: no media in the offer: {offered}"))?;
        if transcode && !offered.contains("PCMA") {
            return Err(format!("call {i}: rtpengine did not offer PCMA: {offered}"));
        }
        let callee_sdp = phone_sdp(
            sb.local_addr().map_err(|e| e.to_string())?,
            &[callee_codec.static_payload_type()],
        );
        let answered = ng.answer(&call_id, &from_tag, &to_tag, &callee_sdp)?;
        let (to_caller_side, pt) = sdp_target(&answered)
            .ok_or_else(|| format!("call {i}: no media in the answer: {answered}"))?;
        if pt != 0 {
            return Err(format!(
                "call {i}: caller was answered with payload type {pt}, not PCMU"
            ));
        }
        // The caller sends to the port rtpengine answered it with; the callee to the one offered.
        phones.push(Phone::new(
            sa,
            to_caller_side,
            Codec::Pcmu,
            (i * 7) as u16,
            0xC000_0000 | (2 * i) as u32,
        ));
        phones.push(Phone::new(
            sb,
            to_callee_side,
            callee_codec,
            (i * 7) as u16,
            0xC000_0000 | (2 * i + 1) as u32,
        ));
        calls.push(RelayedCall { call_id, from_tag });
    }
    Ok((phones, calls))
}

/// Deletes the calls (so a next run starts from an empty rtpengine).
pub fn teardown(addr: SocketAddr, calls: &[RelayedCall]) {
    let Ok(mut ng) = NgClient::new(addr) else {
        return;
    };
    let failed = calls
        .iter()
        .filter(|c| ng.delete(&c.call_id, &c.from_tag).is_err())
        .count();
    if failed > 0 {
        eprintln!("rtpengine: {failed} calls not deleted");
    }
}
