//! WAV (RIFF) reading into 8 kHz mono 16-bit PCM, and the canonical 44-byte header for writing.
//! Accepts integer PCM (8/16/24/32-bit), float32, µ-law and A-law, any channel count (mixed
//! down) and any rate (band-limited resampling to 8 kHz); refuses everything else with an error
//! naming the file and saying how to fix it. Never panics on corrupt input.

use std::fmt;
use std::path::{Path, PathBuf};

use super::g711;

/// The engine's sample rate.
pub const RATE: u32 = 8000;

/// A WAV file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.problem)
    }
}

impl std::error::Error for WavError {}

const FIX: &str = "convert it with `sox IN -r 8000 -c 1 -b 16 OUT.wav`";

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

#[derive(Debug, Clone, Copy)]
struct Format {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

/// Decodes WAV bytes to 8 kHz mono PCM; `file` only names the source in errors.
pub fn decode(bytes: &[u8], file: &Path) -> Result<Vec<i16>, WavError> {
    let err = |problem: String| WavError {
        file: file.to_path_buf(),
        problem,
    };
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(err(format!("not a WAV file (no RIFF/WAVE header); {FIX}")));
    }
    let mut at = 12;
    let mut format: Option<Format> = None;
    let mut data: Option<&[u8]> = None;
    while let (Some(id), Some(len)) = (bytes.get(at..at + 4), le32(bytes, at + 4)) {
        let body_start = at + 8;
        let len = len as usize;
        // A data chunk whose size runs past the end (streamed writers) is cut to the file.
        let body_end = body_start.saturating_add(len).min(bytes.len());
        let body = bytes.get(body_start..body_end).unwrap_or(&[]);
        match id {
            b"fmt " => {
                let mut tag = le16(body, 0).ok_or_else(|| err("`fmt ` chunk truncated".into()))?;
                if tag == 0xFFFE {
                    // WAVE_FORMAT_EXTENSIBLE: the real tag starts the sub-format GUID.
                    tag =
                        le16(body, 24).ok_or_else(|| err("extensible `fmt ` truncated".into()))?;
                }
                format = Some(Format {
                    tag,
                    channels: le16(body, 2).ok_or_else(|| err("`fmt ` chunk truncated".into()))?,
                    rate: le32(body, 4).ok_or_else(|| err("`fmt ` chunk truncated".into()))?,
                    bits: le16(body, 14).ok_or_else(|| err("`fmt ` chunk truncated".into()))?,
                });
            }
            b"data" => {
                data = Some(body);
                break;
            }
            _ => {}
        }
        at = body_start.saturating_add(len).saturating_add(len & 1);
    }
    let fmt = format.ok_or_else(|| err(format!("no `fmt ` chunk before the audio; {FIX}")))?;
    let data = data.ok_or_else(|| err("no `data` chunk (file truncated?)".into()))?;
    if fmt.channels == 0 || fmt.rate == 0 {
        return Err(err(format!(
            "declares {} channels at {} Hz; {FIX}",
            fmt.channels, fmt.rate
        )));
    }
    let samples = to_linear(data, fmt).ok_or_else(|| {
        err(format!(
            "unsupported encoding (format tag {}, {} bits); use 16-bit PCM: {FIX}",
            fmt.tag, fmt.bits
        ))
    })?;
    let mono = downmix(&samples, fmt.channels as usize);
    if mono.is_empty() {
        return Err(err("contains no audio".into()));
    }
    Ok(resample(&mono, fmt.rate, RATE))
}

fn to_linear(data: &[u8], f: Format) -> Option<Vec<i16>> {
    let v = match (f.tag, f.bits) {
        (1, 8) => data.iter().map(|&b| ((b as i16) - 128) << 8).collect(),
        (1, 16) => data
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
        (1, 24) => data
            .chunks_exact(3)
            .map(|c| i16::from_le_bytes([c[1], c[2]]))
            .collect(),
        (1, 32) => data
            .chunks_exact(4)
            .map(|c| i16::from_le_bytes([c[2], c[3]]))
            .collect(),
        (3, 32) => data
            .chunks_exact(4)
            .map(|c| {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                (x.clamp(-1.0, 1.0) * 32767.0) as i16
            })
            .collect(),
        (6, 8) => data
            .iter()
            .map(|&b| g711::ALAW_DECODE[b as usize])
            .collect(),
        (7, 8) => data
            .iter()
            .map(|&b| g711::ULAW_DECODE[b as usize])
            .collect(),
        _ => return None,
    };
    Some(v)
}

fn downmix(samples: &[i16], channels: usize) -> Vec<i16> {
    if channels == 1 {
        return samples.to_vec();
    }
    samples
        .chunks_exact(channels)
        .map(|frame| (frame.iter().map(|&s| s as i32).sum::<i32>() / channels as i32) as i16)
        .collect()
}

/// Band-limited (Hann-windowed sinc) resampling of mono PCM.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let ratio = to as f64 / from as f64;
    let cutoff = ratio.min(1.0) * 0.92;
    let half_taps = (12.0 / cutoff).ceil() as i64;
    let out_len = ((input.len() as f64) * ratio).round() as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let center = n as f64 / ratio;
        let first = (center.floor() as i64 - half_taps).max(0);
        let last = (center.floor() as i64 + half_taps).min(input.len() as i64 - 1);
        let mut acc = 0.0f64;
        let mut norm = 0.0f64;
        for k in first..=last {
            let x = k as f64 - center;
            let arg = std::f64::consts::PI * x * cutoff;
            let sinc = if arg.abs() < 1e-9 {
                1.0
            } else {
                arg.sin() / arg
            };
            let w = 0.5 + 0.5 * (std::f64::consts::PI * x / (half_taps as f64 + 1.0)).cos();
            let weight = sinc * w;
            acc += weight * input[k as usize] as f64;
            norm += weight;
        }
        let v = if norm.abs() > 1e-9 { acc / norm } else { 0.0 };
        out.push(v.round().clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// A canonical 44-byte header for 16-bit PCM with `data_len` bytes of samples.
pub fn header(channels: u16, rate: u32, data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let block_align = channels * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * block_align as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// A whole 16-bit PCM WAV in memory (tests, tools).
pub fn encode(channels: u16, rate: u32, samples: &[i16]) -> Vec<u8> {
    let mut out = header(channels, rate, (samples.len() * 2) as u32).to_vec();
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::goertzel::goertzel_power;

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn reads_8k_mono_exactly() {
        let s = sine(440.0, 8000, 800);
        let got = decode(&encode(1, 8000, &s), Path::new("a.wav")).unwrap();
        assert_eq!(got, s);
    }

    #[test]
    fn resamples_and_downmixes() {
        let mono = sine(1000.0, 22050, 22050);
        let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        let got = decode(&encode(2, 22050, &stereo), Path::new("b.wav")).unwrap();
        assert!((got.len() as i64 - 8000).abs() <= 1);
        let on = goertzel_power(&got[400..7600], 1000.0, 8000.0);
        let off = goertzel_power(&got[400..7600], 1500.0, 8000.0);
        assert!(on > 100.0 * off);
        // Level is kept.
        let expected = 8000.0f32 * 8000.0 * 7200.0 / 2.0;
        assert!((on / expected - 1.0).abs() < 0.1, "{on} {expected}");
    }

    #[test]
    fn downsampling_removes_what_8k_cannot_carry() {
        let high = sine(6000.0, 44100, 44100);
        let got = decode(&encode(1, 44100, &high), Path::new("c.wav")).unwrap();
        let rms = (got.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / got.len() as f64).sqrt();
        assert!(rms < 300.0, "aliased energy rms {rms}");
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file() {
        let good = encode(1, 8000, &sine(440.0, 8000, 100));
        for cut in [0, 3, 11, 20, 30, 40] {
            let e = decode(&good[..cut], Path::new("prompts/en/bad.wav")).unwrap_err();
            assert!(e.to_string().starts_with("prompts/en/bad.wav: "), "{e}");
        }
        let mut huge = good.clone();
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes()); // fmt length past the end
        assert!(decode(&huge, Path::new("x.wav")).is_err());
        assert!(decode(b"hello world, not audio", Path::new("x.wav")).is_err());
    }

    #[test]
    fn refuses_unsupported_encoding_with_fix() {
        let mut adpcm = encode(1, 8000, &[0; 100]);
        adpcm[20] = 2; // MS ADPCM
        let e = decode(&adpcm, Path::new("p/en/x.wav")).unwrap_err();
        assert!(e.problem.contains("unsupported encoding"), "{e}");
        assert!(e.problem.contains("sox"), "{e}");
    }

    #[test]
    fn header_matches_layout() {
        let h = header(2, 8000, 3200);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([h[40], h[41], h[42], h[43]]), 3200);
        assert_eq!(u32::from_le_bytes([h[28], h[29], h[30], h[31]]), 32000);
    }

    fn garbage(seed: u64, n: usize) -> Vec<Vec<u8>> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (x >> 54) as usize;
                (0..len)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (x >> 56) as u8
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn random_and_mangled_files_never_panic() {
        let good = encode(2, 16000, &[100; 400]);
        for (i, g) in garbage(3, 3_000).into_iter().enumerate() {
            let _ = decode(&g, Path::new("x.wav"));
            // Corrupt a valid file at a random spot.
            let mut m = good.clone();
            for (k, b) in g.iter().take(4).enumerate() {
                let at = (i * 7 + k * 13 + *b as usize) % m.len();
                m[at] = *b;
            }
            let _ = decode(&m, Path::new("x.wav"));
        }
    }
}
