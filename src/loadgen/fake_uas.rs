//! A minimal answering SIP UAS over UDP for testing the load generator without a real
//! server: INVITE → 100, 180, 200 with an SDP answer (or 100 and a configured
//! rejection), BYE → 200, ACK absorbed, anything else → 200. Stateless: a
//! retransmitted INVITE is answered again with the same To tag. It can drop the first
//! INVITEs it sees to exercise retransmission.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::sip::message::{Message, Method, Request, Response};

/// How the fake UAS misbehaves.
#[derive(Clone, Debug, Default)]
pub struct FakeUasConfig {
    /// Ignore this many INVITE datagrams first.
    pub drop_first_invites: u64,
    /// Answer INVITEs with this final status instead of 200.
    pub reject: Option<u16>,
}

/// What the fake UAS saw.
#[derive(Debug, Default)]
pub struct FakeUasCounters {
    pub invites: AtomicU64,
    pub dropped: AtomicU64,
    pub acks: AtomicU64,
    pub byes: AtomicU64,
}

pub struct FakeUas {
    pub addr: SocketAddr,
    pub counters: Arc<FakeUasCounters>,
    task: JoinHandle<()>,
}

impl Drop for FakeUas {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUas {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn spawn(cfg: FakeUasConfig) -> io::Result<FakeUas> {
        let sock = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = sock.local_addr()?;
        let counters = Arc::new(FakeUasCounters::default());
        let task = tokio::spawn(serve(sock, cfg, counters.clone()));
        Ok(FakeUas {
            addr,
            counters,
            task,
        })
    }
}

fn answer_sdp(addr: &SocketAddr) -> String {
    format!(
        "v=0\r\no=fake 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        ip = addr.ip()
    )
}

/// The responses to one request, in order.
fn respond(
    req: &Request,
    cfg: &FakeUasConfig,
    me: &SocketAddr,
    c: &FakeUasCounters,
) -> Vec<Response> {
    // Call-IDs are unique, so one To tag for every dialog is enough.
    let tag = "fake1";
    match req.method {
        Method::Ack => {
            c.acks.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        }
        Method::Invite => {
            let trying = Response::for_request(req, 100, "");
            if let Some(status) = cfg.reject {
                return vec![
                    trying,
                    Response::for_request(req, status, "").with_to_tag(tag),
                ];
            }
            let ringing = Response::for_request(req, 180, "").with_to_tag(tag);
            let mut ok = Response::for_request(req, 200, "").with_to_tag(tag);
            ok.headers.push("contact", format!("<sip:fake@{me}>"));
            ok.set_body("application/sdp", answer_sdp(me));
            vec![trying, ringing, ok]
        }
        Method::Bye => {
            c.byes.fetch_add(1, Ordering::Relaxed);
            vec![Response::for_request(req, 200, "")]
        }
        _ => vec![Response::for_request(req, 200, "")],
    }
}

async fn serve(sock: UdpSocket, cfg: FakeUasConfig, c: Arc<FakeUasCounters>) {
    let me = sock
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(Message::Request(req)) = Message::parse(buf.get(..n).unwrap_or(&[])) else {
            continue;
        };
        if req.method == Method::Invite {
            c.invites.fetch_add(1, Ordering::Relaxed);
            if c.dropped.load(Ordering::Relaxed) < cfg.drop_first_invites {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        for resp in respond(&req, &cfg, &me, &c) {
            let _ = sock.send_to(&resp.to_bytes(), from).await;
        }
    }
}
