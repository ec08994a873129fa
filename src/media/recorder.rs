//! Call recording tap (sans-IO): per 20 ms tick it takes what the party said and what it heard
//! and builds 16-bit little-endian WAV sample data — stereo (left = party, right = what it
//! heard: the agent, prompts, music) or mixed mono — handed out in chunks for a writer thread, so
//! the media path never touches the disk.

use super::player::FRAME;

/// Layout of the recording file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordingMode {
    /// Left: the recorded leg's party; right: what that party heard.
    #[default]
    Stereo,
    /// Both summed into one channel.
    Mixed,
}

impl RecordingMode {
    /// Channels in the file.
    pub fn channels(self) -> u16 {
        match self {
            RecordingMode::Stereo => 2,
            RecordingMode::Mixed => 1,
        }
    }
}

/// Accumulates frames into chunks.
#[derive(Debug, Clone)]
pub struct RecorderTap {
    mode: RecordingMode,
    buf: Vec<u8>,
    frames_per_chunk: usize,
    frames_in_buf: usize,
    total_frames: u64,
}

impl RecorderTap {
    /// A tap handing out a chunk every `frames_per_chunk` ticks (50 = one second).
    pub fn new(mode: RecordingMode, frames_per_chunk: usize) -> Self {
        let frames_per_chunk = frames_per_chunk.max(1);
        RecorderTap {
            mode,
            buf: Vec::with_capacity(frames_per_chunk * FRAME * 2 * mode.channels() as usize),
            frames_per_chunk,
            frames_in_buf: 0,
            total_frames: 0,
        }
    }

    /// The file layout.
    pub fn mode(&self) -> RecordingMode {
        self.mode
    }

    /// Adds one tick; returns a full chunk when one is ready.
    pub fn push(&mut self, party: &[i16; FRAME], heard: &[i16; FRAME]) -> Option<Vec<u8>> {
        match self.mode {
            RecordingMode::Stereo => {
                for (l, r) in party.iter().zip(heard.iter()) {
                    self.buf.extend_from_slice(&l.to_le_bytes());
                    self.buf.extend_from_slice(&r.to_le_bytes());
                }
            }
            RecordingMode::Mixed => {
                for (l, r) in party.iter().zip(heard.iter()) {
                    let m = (*l as i32 + *r as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
                    self.buf.extend_from_slice(&m.to_le_bytes());
                }
            }
        }
        self.frames_in_buf += 1;
        self.total_frames += 1;
        if self.frames_in_buf >= self.frames_per_chunk {
            self.frames_in_buf = 0;
            let cap = self.buf.capacity();
            return Some(std::mem::replace(&mut self.buf, Vec::with_capacity(cap)));
        }
        None
    }

    /// What is left when recording stops.
    pub fn finish(&mut self) -> Vec<u8> {
        self.frames_in_buf = 0;
        std::mem::take(&mut self.buf)
    }

    /// Recorded time so far.
    pub fn duration_ms(&self) -> u64 {
        self.total_frames * 20
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_interleaves_party_left_heard_right() {
        let mut tap = RecorderTap::new(RecordingMode::Stereo, 2);
        assert!(tap.push(&[1; FRAME], &[-2; FRAME]).is_none());
        let chunk = tap.push(&[3; FRAME], &[4; FRAME]).unwrap();
        assert_eq!(chunk.len(), 2 * FRAME * 4);
        assert_eq!(&chunk[..8], &[1, 0, 0xFE, 0xFF, 1, 0, 0xFE, 0xFF]);
        assert_eq!(&chunk[FRAME * 4..FRAME * 4 + 4], &[3, 0, 4, 0]);
        assert!(tap.finish().is_empty());
        assert_eq!(tap.duration_ms(), 40);
    }

    #[test]
    fn mixed_sums_and_remainder_is_flushed() {
        let mut tap = RecorderTap::new(RecordingMode::Mixed, 10);
        tap.push(&[30_000; FRAME], &[30_000; FRAME]);
        let rest = tap.finish();
        assert_eq!(rest.len(), FRAME * 2);
        assert_eq!(i16::from_le_bytes([rest[0], rest[1]]), i16::MAX);
    }
}
