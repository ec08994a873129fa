//! Goertzel filter and in-band DTMF detection on 8 kHz linear PCM: 205-sample blocks, row and
//! column peaks checked for absolute level, twist, dominance over the other tones and share of
//! the block energy; a press must last two blocks and is reported once, when released.

use super::dtmf::DtmfDigit;

const RATE: f32 = 8000.0;
const BLOCK: usize = 205;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Each tone must reach about −36 dBm0 (amplitude ~300 of 32767).
const MIN_TONE_ENERGY: f32 = (BLOCK as f32) * 300.0 * 300.0 / 2.0;
/// Column may exceed row by 8 dB (normal twist), row may exceed column by 4 dB (reverse).
const NORMAL_TWIST: f32 = 6.31;
const REVERSE_TWIST: f32 = 2.51;
/// The peak must beat every other tone of its group by 6 dB.
const RELATIVE_PEAK: f32 = 4.0;
/// The two tones must hold this share of the block energy.
const TONE_SHARE: f32 = 0.6;

/// Energy of the component at `freq` in `samples` (≈ A²·N/2 for a sine of amplitude A).
pub fn goertzel_power(samples: &[i16], freq: f32, rate: f32) -> f32 {
    let coef = 2.0 * (2.0 * std::f32::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x as f32 + coef * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coef * s1 * s2;
    2.0 * power / samples.len().max(1) as f32
}

/// Total energy Σx².
pub fn energy(samples: &[i16]) -> f32 {
    samples.iter().map(|&x| (x as f32) * (x as f32)).sum()
}

fn peak(powers: &[f32; 4]) -> (usize, f32, bool) {
    let mut best = 0;
    for i in 1..4 {
        if powers[i] > powers[best] {
            best = i;
        }
    }
    let p = powers[best];
    let clear = powers
        .iter()
        .enumerate()
        .all(|(i, &q)| i == best || q * RELATIVE_PEAK <= p);
    (best, p, clear)
}

/// Classifies one block: the key whose tone pair it holds, if any.
pub fn classify_block(block: &[i16]) -> Option<char> {
    let rows = ROWS.map(|f| goertzel_power(block, f, RATE));
    let cols = COLS.map(|f| goertzel_power(block, f, RATE));
    let (r, rp, rclear) = peak(&rows);
    let (c, cp, cclear) = peak(&cols);
    if !rclear || !cclear || rp < MIN_TONE_ENERGY || cp < MIN_TONE_ENERGY {
        return None;
    }
    if cp > rp * NORMAL_TWIST || rp > cp * REVERSE_TWIST {
        return None;
    }
    if rp + cp < TONE_SHARE * energy(block) {
        return None;
    }
    KEYS.get(r).and_then(|row| row.get(c)).copied()
}

/// Streaming in-band DTMF detector for one call direction.
#[derive(Debug, Clone, Default)]
pub struct InbandDetector {
    buf: Vec<i16>,
    candidate: Option<(char, u32)>,
    pressed: Option<(char, u32)>,
    gap: u32,
}

impl InbandDetector {
    /// New detector.
    pub fn new() -> Self {
        Self::default()
    }

    fn block_ms(blocks: u32) -> u32 {
        blocks * BLOCK as u32 * 1000 / RATE as u32
    }

    fn on_block(&mut self, key: Option<char>, out: &mut Vec<DtmfDigit>) {
        if let Some((held, blocks)) = self.pressed {
            if key == Some(held) {
                self.pressed = Some((held, blocks + 1));
                self.gap = 0;
                return;
            }
            // One dropped block inside a press (speech, a glitch) does not split it.
            self.gap += 1;
            if self.gap < 2 && key.is_none() {
                return;
            }
            out.push(DtmfDigit {
                digit: held,
                duration_ms: Self::block_ms(blocks),
            });
            self.pressed = None;
            self.gap = 0;
            self.candidate = key.map(|k| (k, 1));
            return;
        }
        match (key, self.candidate) {
            (Some(k), Some((c, n))) if k == c => {
                self.pressed = Some((k, n + 1));
                self.candidate = None;
            }
            (Some(k), _) => self.candidate = Some((k, 1)),
            (None, _) => self.candidate = None,
        }
    }

    /// Feeds samples; completed presses are appended to `out`.
    pub fn feed(&mut self, samples: &[i16], out: &mut Vec<DtmfDigit>) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (BLOCK - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == BLOCK {
                let key = classify_block(&self.buf);
                self.buf.clear();
                self.on_block(key, out);
            }
        }
    }
}

/// Test and tool helper: `ms` of the tone pair for `digit` at `amplitude` per tone.
pub fn dtmf_tone(digit: char, ms: u32, amplitude: f32) -> Vec<i16> {
    let Some((r, c)) = KEYS
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&k| k == digit).map(|c| (r, c)))
    else {
        return Vec::new();
    };
    let n = (RATE as u32 * ms / 1000) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE;
            let v = amplitude * (2.0 * std::f32::consts::PI * ROWS[r] * t).sin()
                + amplitude * (2.0 * std::f32::consts::PI * COLS[c] * t).sin();
            v.clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, ms: u32, amp: f32) -> Vec<i16> {
        (0..(8 * ms) as usize)
            .map(|i| (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin()) as i16)
            .collect()
    }

    fn detect(samples: &[i16]) -> Vec<char> {
        let mut det = InbandDetector::new();
        let mut out = Vec::new();
        // Feed in 160-sample frames like the RTP path does.
        for chunk in samples.chunks(160) {
            det.feed(chunk, &mut out);
        }
        det.feed(&vec![0; 800], &mut out);
        out.iter().map(|d| d.digit).collect()
    }

    #[test]
    fn goertzel_finds_the_tone() {
        let s = sine(1000.0, 100, 8000.0);
        let on = goertzel_power(&s, 1000.0, 8000.0);
        let off = goertzel_power(&s, 1400.0, 8000.0);
        assert!(on > 1000.0 * off);
        let expected = 8000.0f32 * 8000.0 * s.len() as f32 / 2.0;
        assert!((on / expected - 1.0).abs() < 0.05, "{on} vs {expected}");
    }

    #[test]
    fn every_key_detected_once_per_press() {
        let mut audio = Vec::new();
        for key in "123A456B789C*0#D".chars() {
            audio.extend(dtmf_tone(key, 80, 6000.0));
            audio.extend(vec![0i16; 8 * 60]);
        }
        let got: String = detect(&audio).into_iter().collect();
        assert_eq!(got, "123A456B789C*0#D");
    }

    #[test]
    fn repeated_digits_need_a_gap_and_long_press_is_one() {
        let mut audio = dtmf_tone('1', 400, 6000.0);
        audio.extend(vec![0i16; 8 * 60]);
        audio.extend(dtmf_tone('1', 80, 6000.0));
        assert_eq!(detect(&audio), vec!['1', '1']);
    }

    #[test]
    fn rejects_short_quiet_twisted_and_single_tones() {
        assert!(detect(&dtmf_tone('5', 25, 6000.0)).is_empty(), "too short");
        assert!(detect(&dtmf_tone('5', 100, 150.0)).is_empty(), "too quiet");
        assert!(detect(&sine(1000.0, 200, 8000.0)).is_empty(), "single tone");
        // Row 12 dB louder than column: beyond reverse twist.
        let twisted: Vec<i16> = sine(770.0, 100, 8000.0)
            .iter()
            .zip(sine(1336.0, 100, 2000.0))
            .map(|(a, b)| a + b)
            .collect();
        assert!(detect(&twisted).is_empty(), "twist");
        // Tones buried in noise-like broadband signal.
        let mut seed = 1u32;
        let noisy: Vec<i16> = dtmf_tone('8', 100, 1000.0)
            .iter()
            .map(|&x| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                x.saturating_add(((seed >> 16) as i16) / 3)
            })
            .collect();
        assert!(detect(&noisy).is_empty(), "energy share");
    }

    #[test]
    fn reports_duration() {
        let mut det = InbandDetector::new();
        let mut out = Vec::new();
        det.feed(&dtmf_tone('9', 300, 6000.0), &mut out);
        det.feed(&vec![0; 1000], &mut out);
        assert_eq!(out.len(), 1);
        assert!((250..=330).contains(&out[0].duration_ms), "{:?}", out[0]);
    }
}
