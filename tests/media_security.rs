//! Issue 14, row 3, against the real server: a caller's SDP cannot aim our audio at a third
//! address (media goes only to the INVITE's source IP, latched to the first RTP from it); a
//! caller that offers `a=recvonly` and sends nothing is hung up after the media timeout; every
//! call ends at `[media] max_call_s` with the cause `max_call_length`, or at its queue's own
//! `max_call_s` (queues.toml) once it joined that queue. The test config trusts
//! only 127.0.0.2, so callers on 127.0.0.1 are untrusted.

mod common;

use common::sip_caller::{count_rtp, sdp, Caller};
use common::Server;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xFF; 160]);
    p
}

#[test]
fn an_sdp_naming_a_third_address_gets_no_audio_there_and_the_caller_gets_it() {
    let server = Server::start("media-third-address", "");
    // The "victim": 127.0.0.9 (loopback 127/8 needs no set-up on Linux).
    let victim = UdpSocket::bind("127.0.0.9:0").expect("bind 127.0.0.9");
    let victim_port = victim.local_addr().expect("addr").port();
    let caller = Caller::new(server.sip, "ms-third");
    let media = caller.call(&sdp("127.0.0.9", victim_port, "sendrecv"));
    assert_eq!(
        count_rtp(&victim, Duration::from_millis(1500)),
        0,
        "the IVR's greeting went to the address the SDP named"
    );
    // The caller's real RTP socket, on the INVITE's source IP: once it sends, audio flows back.
    let phone = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for seq in 0..5u16 {
        phone.send_to(&rtp(seq), media).expect("send rtp");
        std::thread::sleep(Duration::from_millis(20));
    }
    let back = count_rtp(&phone, Duration::from_millis(1000));
    assert!(back > 10, "only {back} RTP packets reached the caller");
    assert_eq!(count_rtp(&victim, Duration::from_millis(300)), 0);
    // A stranger's packets to our port change nothing: still no audio at the victim.
    let stranger = UdpSocket::bind("127.0.0.9:0").expect("bind");
    for seq in 10..20u16 {
        stranger.send_to(&rtp(seq), media).expect("send rtp");
    }
    assert_eq!(count_rtp(&victim, Duration::from_millis(500)), 0);
    assert_eq!(count_rtp(&stranger, Duration::from_millis(300)), 0);
}

#[test]
fn a_recvonly_caller_that_sends_nothing_is_hung_up_after_the_media_timeout() {
    let server = Server::start_with("media-recvonly", "", "media_timeout_secs = 2");
    let caller = Caller::new(server.sip, "ms-recvonly");
    let answered = Instant::now();
    caller.call(&sdp("127.0.0.1", 9, "recvonly"));
    let bye = caller
        .await_bye(Duration::from_secs(8))
        .expect("no BYE: the recvonly call was never timed out");
    let after = bye - answered;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(6),
        "BYE {after:?} after the answer; the timeout is 2 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = server.log_text();
    assert!(
        log.contains("ms-recvonly") && log.contains("media_timeout"),
        "cause media_timeout not logged"
    );
}

#[test]
fn a_call_longer_than_max_call_s_is_hung_up_with_cause_max_call_length() {
    let server = Server::start_with("media-max-call", "", "max_call_s = 2");
    let caller = Caller::new(server.sip, "ms-maxcall");
    let answered = Instant::now();
    caller.call(&sdp("127.0.0.1", 9, "sendrecv"));
    let bye = caller
        .await_bye(Duration::from_secs(8))
        .expect("no BYE at the maximum call length");
    let after = bye - answered;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(5),
        "BYE {after:?} after the answer; the limit is 2 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.log_text().contains("max_call_length"),
        "cause max_call_length not logged"
    );
}

#[test]
fn a_queue_with_its_own_max_call_s_hangs_its_callers_up_at_that_length() {
    // The sample queues with `max_call_s = 2` on hardware, and a dialplan that queues there at
    // once; the global [media] max_call_s stays at its 4 h default.
    let dir = std::env::temp_dir().join(format!("helpline-queue-max-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("plans")).expect("dir");
    let queues = std::fs::read_to_string(common::repo().join("config/queues.toml"))
        .expect("sample queues")
        .replacen(
            "name = \"hardware\"\n",
            "name = \"hardware\"\nmax_call_s = 2\n",
            1,
        );
    std::fs::write(dir.join("queues.toml"), queues).expect("queues");
    std::fs::write(
        dir.join("plans/queue.toml"),
        "[plan]\ndescription = \"straight to hardware\"\nlanguages = [\"en\"]\n\
         default_language = \"en\"\n[[entry]]\nnumber = \"+442079460999\"\nstart = \"q\"\n\
         [nodes.q]\nkind = \"enqueue\"\nqueue = \"hardware\"\n",
    )
    .expect("plan");
    let server = Server::start_edited("media-queue-max-call", "", "", |cfg| {
        cfg.lines()
            .map(|l| {
                if l.starts_with("dialplans = ") {
                    format!("dialplans = \"{}\"", dir.join("plans").display())
                } else if l.starts_with("queues = ") {
                    format!("queues = \"{}\"", dir.join("queues.toml").display())
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let caller = Caller::new(server.sip, "ms-queue-max");
    let answered = Instant::now();
    caller.call_to("+442079460999", &sdp("127.0.0.1", 9, "sendrecv"));
    let bye = caller
        .await_bye(Duration::from_secs(8))
        .expect("no BYE at the queue's maximum call length");
    let after = bye - answered;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(5),
        "BYE {after:?} after the answer; the queue's limit is 2 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.log_text().contains("max_call_length"),
        "cause logged"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
