//! The part of a session other workers may touch: its relay inbox. A bridged peer pushes its
//! audio here (converted to this session's codec, no decode when codecs match) and the owning
//! worker pops one 20 ms frame per tick. Only pushes from the current peer are taken, so a stale
//! bridge can never leak audio into a new one.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use super::codec::Codec;
use super::events::SessionId;

/// Hard cap: frames queued before the oldest audio is dropped (160 ms).
const MAX_FRAMES: usize = 8;
/// Depth (frames, after a pop) above which the queue counts as too deep.
const TARGET_FRAMES: usize = 2;
/// Ticks in a row too deep before one frame is dropped to win latency back (200 ms).
const TRIM_AFTER: u32 = 10;

#[derive(Debug)]
struct Inbox {
    from: Option<SessionId>,
    codec: Codec,
    frame_bytes: usize,
    bytes: VecDeque<u8>,
    /// A one-frame cushion is in place; lost on underflow, rebuilt before playing again.
    primed: bool,
    /// Consecutive pops that left more than `TARGET_FRAMES` queued.
    deep: u32,
}

/// Outcome of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Taken as is.
    Relayed,
    /// Taken through a transcode table.
    Transcoded,
    /// Taken, but old audio had to be dropped to make room.
    Overflow,
    /// This session is not bridged to the sender.
    NotPeer,
}

/// Outcome of a pop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popped {
    /// Nothing to play this tick.
    Empty,
    /// A frame.
    Frame,
    /// A frame, and one more was dropped to bring latency down.
    Trimmed,
}

impl Popped {
    /// Whether a frame came out.
    pub fn is_frame(self) -> bool {
        self != Popped::Empty
    }
}

/// Shared state of one session.
#[derive(Debug)]
pub struct LegShared {
    /// Session id.
    pub id: SessionId,
    inbox: Mutex<Inbox>,
}

impl LegShared {
    /// New shared state for a session using `codec`.
    pub fn new(id: SessionId, codec: Codec) -> Self {
        LegShared {
            id,
            inbox: Mutex::new(Inbox {
                from: None,
                codec,
                frame_bytes: codec.samples_per_frame(20),
                bytes: VecDeque::new(),
                primed: false,
                deep: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A poisoned lock only means another worker panicked mid-push; the bytes are still fine.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Owner side: accept audio from `from` only (None = from nobody), encoded as `codec`.
    pub fn set_source(&self, from: Option<SessionId>, codec: Codec) {
        let mut ib = self.lock();
        ib.from = from;
        ib.codec = codec;
        ib.frame_bytes = codec.samples_per_frame(20);
        ib.bytes.clear();
        ib.primed = false;
    }

    /// Peer side: push a payload encoded as `codec`.
    pub fn push(&self, from: SessionId, codec: Codec, payload: &[u8]) -> Pushed {
        let mut ib = self.lock();
        if ib.from != Some(from) {
            return Pushed::NotPeer;
        }
        let table = codec.transcode_table(ib.codec);
        match table {
            Some(t) => {
                let mut mapped = [0u8; 320];
                for chunk in payload.chunks(mapped.len()) {
                    for (m, &b) in mapped.iter_mut().zip(chunk) {
                        *m = t[b as usize];
                    }
                    ib.bytes.extend(&mapped[..chunk.len()]);
                }
            }
            None => ib.bytes.extend(payload),
        }
        let max = ib.frame_bytes * MAX_FRAMES;
        if ib.bytes.len() > max {
            let excess = ib.bytes.len() - max;
            ib.bytes.drain(..excess);
            return Pushed::Overflow;
        }
        if table.is_some() {
            Pushed::Transcoded
        } else {
            Pushed::Relayed
        }
    }

    /// Owner side: one frame into `out` (replacing its content).
    /// Playback (re)starts only with two frames queued, so one frame of cushion absorbs the
    /// phase jitter between the sender's clock and our tick (and between worker threads). After
    /// a burst (a stalled sender or worker) the queue is trimmed back by one frame per 200 ms
    /// so latency does not stay high.
    pub fn pop_frame(&self, out: &mut Vec<u8>) -> Popped {
        let mut ib = self.lock();
        let n = ib.frame_bytes;
        let need = if ib.primed { n } else { 2 * n };
        if ib.bytes.len() < need || n == 0 {
            ib.primed = false;
            ib.deep = 0;
            return Popped::Empty;
        }
        ib.primed = true;
        out.clear();
        let (a, b) = ib.bytes.as_slices();
        let from_a = a.len().min(n);
        out.extend_from_slice(&a[..from_a]);
        out.extend_from_slice(&b[..n - from_a]);
        ib.bytes.drain(..n);
        if ib.bytes.len() > TARGET_FRAMES * n {
            ib.deep += 1;
            if ib.deep >= TRIM_AFTER {
                ib.deep = 0;
                ib.bytes.drain(..n);
                return Popped::Trimmed;
            }
        } else {
            ib.deep = 0;
        }
        Popped::Frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_current_peer_is_taken_and_transcoded() {
        let b = LegShared::new(2, Codec::Pcma);
        assert_eq!(b.push(1, Codec::Pcmu, &[0xFF; 160]), Pushed::NotPeer);
        b.set_source(Some(1), Codec::Pcma);
        assert_eq!(b.push(3, Codec::Pcmu, &[0xFF; 160]), Pushed::NotPeer);
        assert_eq!(b.push(1, Codec::Pcmu, &[0xFF; 160]), Pushed::Transcoded);
        let mut out = Vec::new();
        assert!(
            !b.pop_frame(&mut out).is_frame(),
            "waits for a one-frame cushion"
        );
        b.push(1, Codec::Pcmu, &[0xFF; 160]);
        assert!(b.pop_frame(&mut out).is_frame());
        assert_eq!(out, vec![0xD5; 160]);
        assert!(b.pop_frame(&mut out).is_frame(), "the cushion plays out");
        assert!(!b.pop_frame(&mut out).is_frame());
    }

    #[test]
    fn cushion_absorbs_a_late_packet() {
        let b = LegShared::new(2, Codec::Pcmu);
        b.set_source(Some(1), Codec::Pcmu);
        let mut out = Vec::new();
        b.push(1, Codec::Pcmu, &[1; 160]);
        b.push(1, Codec::Pcmu, &[2; 160]);
        assert!(b.pop_frame(&mut out).is_frame()); // tick 1
                                                   // Packet 3 arrives just after tick 2: the cushion covers it.
        assert!(b.pop_frame(&mut out).is_frame() && out[0] == 2);
        b.push(1, Codec::Pcmu, &[3; 160]);
        b.push(1, Codec::Pcmu, &[4; 160]);
        assert!(b.pop_frame(&mut out).is_frame() && out[0] == 3);
        assert!(b.pop_frame(&mut out).is_frame() && out[0] == 4);
    }

    #[test]
    fn rechunks_other_packet_sizes_and_bounds_latency() {
        let b = LegShared::new(2, Codec::Pcmu);
        b.set_source(Some(1), Codec::Pcmu);
        assert_eq!(b.push(1, Codec::Pcmu, &[1; 240]), Pushed::Relayed); // 30 ms packets
        b.push(1, Codec::Pcmu, &[2; 240]);
        let mut out = Vec::new();
        assert!(b.pop_frame(&mut out).is_frame());
        assert!(b.pop_frame(&mut out).is_frame());
        assert_eq!((out[0], out[79], out[80]), (1, 1, 2));
        for _ in 0..10 {
            b.push(1, Codec::Pcmu, &[3; 160]);
        }
        assert_eq!(b.push(1, Codec::Pcmu, &[4; 160]), Pushed::Overflow);
        let mut frames = 0;
        while b.pop_frame(&mut out).is_frame() {
            frames += 1;
        }
        assert_eq!(frames, 8);
        assert_eq!(out[0], 4);
    }

    #[test]
    fn a_burst_is_trimmed_back_to_the_target_latency() {
        let b = LegShared::new(2, Codec::Pcmu);
        b.set_source(Some(1), Codec::Pcmu);
        for _ in 0..6 {
            b.push(1, Codec::Pcmu, &[5; 160]); // a stalled sender catches up
        }
        let mut out = Vec::new();
        let mut trimmed = 0;
        for _ in 0..60 {
            b.push(1, Codec::Pcmu, &[6; 160]); // then one frame per tick
            match b.pop_frame(&mut out) {
                Popped::Trimmed => trimmed += 1,
                Popped::Frame => {}
                Popped::Empty => panic!("underflow"),
            }
        }
        assert_eq!(trimmed, 4, "six queued, trimmed back to two");
        assert!(b.pop_frame(&mut out).is_frame() && b.pop_frame(&mut out).is_frame());
        assert!(!b.pop_frame(&mut out).is_frame());
    }
}
