//! Playback cursor over a list of in-memory prompts: hands out 160-sample (20 ms) frames,
//! prompts joined without gaps, the last frame padded with silence; loops for music on hold;
//! stops at once on barge-in.

use std::sync::Arc;

use super::prompts::Prompt;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// One playback.
#[derive(Debug, Clone)]
pub struct Player {
    prompts: Vec<Arc<Prompt>>,
    index: usize,
    offset: usize,
    looping: bool,
    stopped: bool,
}

impl Player {
    /// Plays `prompts` once.
    pub fn once(prompts: Vec<Arc<Prompt>>) -> Self {
        Player {
            prompts,
            index: 0,
            offset: 0,
            looping: false,
            stopped: false,
        }
    }

    /// Plays `prompts` round and round (music on hold).
    pub fn looping(prompts: Vec<Arc<Prompt>>) -> Self {
        let mut p = Player::once(prompts);
        p.looping = true;
        p
    }

    /// Whether this player loops.
    pub fn is_looping(&self) -> bool {
        self.looping
    }

    /// Stops playback (barge-in); the next frame request returns false.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether playback is over.
    pub fn finished(&self) -> bool {
        self.stopped
            || self.prompts.iter().all(|p| p.samples.is_empty())
            || (self.index >= self.prompts.len())
    }

    /// Fills `frame` with the next 20 ms; false (frame untouched) when playback is over.
    pub fn next_frame(&mut self, frame: &mut [i16; FRAME]) -> bool {
        if self.finished() {
            return false;
        }
        let mut filled = 0;
        while filled < FRAME {
            let Some(prompt) = self.prompts.get(self.index) else {
                if self.looping {
                    self.index = 0;
                    continue;
                }
                break;
            };
            let rest = prompt.samples.get(self.offset..).unwrap_or(&[]);
            let take = rest.len().min(FRAME - filled);
            frame[filled..filled + take].copy_from_slice(&rest[..take]);
            filled += take;
            self.offset += take;
            if self.offset >= prompt.samples.len() {
                self.index += 1;
                self.offset = 0;
                if self.looping && self.index >= self.prompts.len() {
                    self.index = 0;
                }
            }
        }
        frame[filled..].fill(0);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: i16, n: usize) -> Arc<Prompt> {
        Prompt::new("en", "x", vec![v; n])
    }

    #[test]
    fn joins_prompts_and_pads_the_end() {
        let mut pl = Player::once(vec![p(1, 100), p(2, 100)]);
        let mut f = [9i16; FRAME];
        assert!(pl.next_frame(&mut f));
        assert!(f[..100].iter().all(|&s| s == 1) && f[100..].iter().all(|&s| s == 2));
        assert!(pl.next_frame(&mut f));
        assert!(f[..40].iter().all(|&s| s == 2) && f[40..].iter().all(|&s| s == 0));
        assert!(!pl.next_frame(&mut f));
        assert!(pl.finished());
    }

    #[test]
    fn loops_for_music_on_hold() {
        let mut pl = Player::looping(vec![p(3, 50)]);
        let mut f = [0i16; FRAME];
        for _ in 0..100 {
            assert!(pl.next_frame(&mut f));
            assert!(f.iter().all(|&s| s == 3));
        }
    }

    #[test]
    fn barge_in_stops_and_empty_is_finished() {
        let mut pl = Player::once(vec![p(1, 10_000)]);
        let mut f = [0i16; FRAME];
        assert!(pl.next_frame(&mut f));
        pl.stop();
        assert!(!pl.next_frame(&mut f));
        assert!(Player::looping(vec![p(0, 0)]).finished());
        assert!(Player::once(vec![]).finished());
    }
}
