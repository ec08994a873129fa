//! G.711 µ-law and A-law: encode/decode of single samples, 256-entry decode tables, 64 Ki-entry
//! encode tables built once, and direct µ-law ⇄ A-law transcode tables (no detour through code).

use std::sync::LazyLock;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes one linear 16-bit sample as µ-law (ITU-T G.711, Sun reference algorithm).
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    if pcm > ULAW_CLIP {
        pcm = ULAW_CLIP;
    }
    pcm += ULAW_BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while pcm & mask == 0 && exponent > 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes one µ-law byte to a linear 16-bit sample.
pub const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

/// Encodes one linear 16-bit sample as A-law (ITU-T G.711, Sun reference algorithm).
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let mut seg = 0;
    while seg < 8 && pcm > ALAW_SEG_END[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mut aval = (seg as i32) << 4;
    if seg < 2 {
        aval |= (pcm >> 1) & 0x0F;
    } else {
        aval |= (pcm >> seg) & 0x0F;
    }
    (aval ^ mask) as u8
}

/// Decodes one A-law byte to a linear 16-bit sample.
pub const fn alaw_to_linear(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_decode(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_to_linear(i as u8)
        } else {
            ulaw_to_linear(i as u8)
        };
        i += 1;
    }
    table
}

/// µ-law byte → linear sample.
pub static ULAW_DECODE: [i16; 256] = build_decode(false);
/// A-law byte → linear sample.
pub static ALAW_DECODE: [i16; 256] = build_decode(true);

const fn build_transcode(from_alaw: bool) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if from_alaw {
            linear_to_ulaw(alaw_to_linear(i as u8))
        } else {
            linear_to_alaw(ulaw_to_linear(i as u8))
        };
        i += 1;
    }
    table
}

/// µ-law byte → A-law byte, directly.
pub static ULAW_TO_ALAW: [u8; 256] = build_transcode(false);
/// A-law byte → µ-law byte, directly.
pub static ALAW_TO_ULAW: [u8; 256] = build_transcode(true);

fn build_encode(alaw: bool) -> Box<[u8]> {
    (0..=u16::MAX)
        .map(|i| {
            let s = i as i16;
            if alaw {
                linear_to_alaw(s)
            } else {
                linear_to_ulaw(s)
            }
        })
        .collect()
}

static ULAW_ENCODE: LazyLock<Box<[u8]>> = LazyLock::new(|| build_encode(false));
static ALAW_ENCODE: LazyLock<Box<[u8]>> = LazyLock::new(|| build_encode(true));

/// Table-driven µ-law encode of a buffer, appended to `out`.
pub fn encode_ulaw(pcm: &[i16], out: &mut Vec<u8>) {
    let table: &[u8] = &ULAW_ENCODE;
    out.extend(
        pcm.iter()
            .map(|&s| table.get(s as u16 as usize).copied().unwrap_or(0xFF)),
    );
}

/// Table-driven A-law encode of a buffer, appended to `out`.
pub fn encode_alaw(pcm: &[i16], out: &mut Vec<u8>) {
    let table: &[u8] = &ALAW_ENCODE;
    out.extend(
        pcm.iter()
            .map(|&s| table.get(s as u16 as usize).copied().unwrap_or(0xD5)),
    );
}

/// µ-law decode of a buffer, appended to `out`.
pub fn decode_ulaw(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| ULAW_DECODE[b as usize]));
}

/// A-law decode of a buffer, appended to `out`.
pub fn decode_alaw(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| ALAW_DECODE[b as usize]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "alaw {code:#x}");
            let lin = ulaw_to_linear(code);
            // 0x7F and 0xFF both mean zero; everything else is exact.
            if lin != 0 {
                assert_eq!(linear_to_ulaw(lin), code, "ulaw {code:#x}");
            }
        }
    }

    #[test]
    fn encode_error_stays_within_segment_step() {
        for s in (-32000i32..32000).step_by(37) {
            let s = s as i16;
            let u = ulaw_to_linear(linear_to_ulaw(s)) as i32;
            let a = alaw_to_linear(linear_to_alaw(s)) as i32;
            let tolerance = (s as i32).abs() / 16 + 16;
            assert!((u - s as i32).abs() <= tolerance, "ulaw {s} -> {u}");
            assert!((a - s as i32).abs() <= tolerance, "alaw {s} -> {a}");
        }
    }

    #[test]
    fn tables_match_functions() {
        let pcm: Vec<i16> = (-40..40).map(|i| i * 800).collect();
        let mut u = Vec::new();
        let mut a = Vec::new();
        encode_ulaw(&pcm, &mut u);
        encode_alaw(&pcm, &mut a);
        for (i, &s) in pcm.iter().enumerate() {
            assert_eq!(u[i], linear_to_ulaw(s));
            assert_eq!(a[i], linear_to_alaw(s));
        }
        let mut back = Vec::new();
        decode_ulaw(&u, &mut back);
        assert_eq!(back[0], ulaw_to_linear(u[0]));
    }

    #[test]
    fn transcode_preserves_level() {
        for code in 0..=255u8 {
            let direct = alaw_to_linear(ULAW_TO_ALAW[code as usize]) as i32;
            let via = ulaw_to_linear(code) as i32;
            assert!((direct - via).abs() <= via.abs() / 16 + 16, "{code}");
            let back = ulaw_to_linear(ALAW_TO_ULAW[linear_to_alaw(via as i16) as usize]) as i32;
            assert!((back - via).abs() <= via.abs() / 8 + 32, "{code}");
        }
    }
}
