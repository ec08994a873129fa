//! TCP: an accept loop and, per connection, a reader (stream framing by Content-Length:
//! many messages per segment, partial reads, CRLF keepalives) and a writer fed by a queue.

use super::{Ingress, Peer, Transports};
use crate::sip::framing::{Frame, Framer, PONG};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A connection with no traffic for this long is closed (clients keep alive with CRLF pings).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// After unframable input, how long the connection stays open for answers already in flight.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// A message still incomplete after this many bytes is refused and the connection closed.
const MAX_MESSAGE: usize = 64 * 1024;

pub fn spawn_listener(t: Arc<Transports>, listener: tokio::net::TcpListener) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    run_connection(t.clone(), stream, remote, None);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SIP TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
}

/// Open a connection to `remote` (for requests to a peer we have no connection with) and send.
pub(super) fn connect_and_send(t: Arc<Transports>, remote: SocketAddr, data: Bytes) {
    tokio::spawn(async move {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(remote)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                run_connection(t, stream, remote, Some(data));
            }
            _ => {
                tracing::debug!(%remote, "SIP TCP connect failed");
                t.stats
                    .tcp_send_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
}

fn run_connection(t: Arc<Transports>, stream: TcpStream, remote: SocketAddr, first: Option<Bytes>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    if let Some(data) = first {
        let _ = tx.send(data);
    }
    let id = t.register_conn(remote, tx.clone());
    let ingress = t.ingress.clone();
    let (mut reader, mut writer) = stream.into_split();
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if writer.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    tokio::spawn(async move {
        let peer = Peer::tcp(remote, id);
        let mut framer = Framer::new(MAX_MESSAGE);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let read = tokio::time::timeout(IDLE_TIMEOUT, reader.read(&mut buf)).await;
            let n = match read {
                Ok(Ok(n)) if n > 0 => n,
                _ => break,
            };
            framer.push(&buf[..n]);
            if let Err(e) = drain(&mut framer, &peer, &ingress, &tx) {
                // Stop reading, but let answers to the messages framed so far go out first.
                tracing::debug!(%remote, error = %e, "closing SIP TCP connection");
                tokio::time::sleep(CLOSE_GRACE).await;
                break;
            }
        }
        t.unregister_conn(id);
    });
}

/// Hand every complete message buffered to `ingress`, answer keepalive pings. An error
/// (no or bad Content-Length, oversized message) means the stream cannot be framed: close it.
fn drain(
    framer: &mut Framer,
    peer: &Peer,
    ingress: &Ingress,
    tx: &mpsc::UnboundedSender<Bytes>,
) -> Result<(), crate::sip::framing::FramingError> {
    while let Some(frame) = framer.next_frame()? {
        match frame {
            Frame::Message(msg) => ingress(msg, *peer),
            Frame::Ping => {
                let _ = tx.send(Bytes::from_static(PONG));
            }
            Frame::Pong => {}
        }
    }
    Ok(())
}
