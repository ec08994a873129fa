"""Audio checks on what a PJSIP caller recorded: find a prompt by normalised cross-correlation,
measure a tone's frequency. Recordings and prompts are 8 kHz mono 16-bit WAV."""
import struct
import wave

import numpy as np


def read_wav(path):
    raw = open(path, "rb").read()
    if raw[4:8] == b"\0\0\0\0":
        # A recorder still open has not written its sizes yet: take the samples after `data`.
        fmt = raw.find(b"fmt ")
        channels, rate = struct.unpack_from("<HI", raw, fmt + 10)
        data = raw.find(b"data")
        x = np.frombuffer(raw[data + 8:][: (len(raw) - data - 8) // 2 * 2], dtype="<i2").astype(np.float64)
        return (x.reshape(-1, channels).mean(axis=1) if channels > 1 else x), rate
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, f"{path}: not 16-bit"
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1)
        return data, w.getframerate()


def best_match(recording, prompt):
    """Peak normalised cross-correlation (0..1) of `prompt` anywhere inside `recording`."""
    return best_match_at(recording, prompt)[0]


def _peak(rec, ref):
    """(peak normalised cross-correlation of `ref` anywhere inside `rec`, sample index)."""
    if len(rec) < len(ref) or not len(ref):
        return 0.0, 0
    n = 1 << int(np.ceil(np.log2(len(rec) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)[: len(rec) - len(ref) + 1]
    # Energy of each recording window the prompt is compared with.
    c = np.concatenate(([0.0], np.cumsum(rec * rec)))
    win = c[len(ref):] - c[: len(rec) - len(ref) + 1]
    denom = np.sqrt(np.maximum(win, 1e-9) * float(np.dot(ref, ref)))
    score = np.abs(corr) / denom
    at = int(np.argmax(score))
    return float(score[at]), at


def best_match_at(recording, prompt):
    """(peak normalised cross-correlation 0..1, seconds into `recording` where it peaks) of
    `prompt` inside `recording`.

    A real call's playout can slip by a frame (a 20 ms packet late or repeated by the phone's
    jitter buffer), which breaks one long correlation although every word was heard. So the
    prompt's half-second pieces are also matched, each near where the whole prompt aligned
    (±60 ms), and their median counts: a prompt that was not played does not line up piece by
    piece any better than as a whole."""
    rec, r1 = read_wav(recording)
    ref, r2 = read_wav(prompt)
    assert r1 == r2 == 8000, (r1, r2)
    ref = ref[: 8000 * 3]  # the first three seconds are plenty to identify a prompt
    if len(rec) < len(ref):
        return 0.0, 0.0
    whole, at = _peak(rec, ref)
    piece, slack = 4000, 480
    pieces = []
    for start in range(0, len(ref) - piece + 1, piece):
        lo = max(0, at + start - slack)
        hi = min(len(rec), at + start + piece + slack)
        pieces.append(_peak(rec[lo:hi], ref[start:start + piece])[0])
    robust = float(np.median(pieces)) if pieces else 0.0
    return max(whole, robust), at / 8000


def tone_power(recording, freq, last_seconds=None):
    """Fraction of the recording's energy within ±20 Hz of `freq` (in its last seconds only,
    when given)."""
    x, r = read_wav(recording)
    if last_seconds:
        x = x[-int(last_seconds * r):]
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / r)
    band = (f > freq - 20) & (f < freq + 20)
    return float(spec[band].sum() / max(spec.sum(), 1e-9))


def read_channels(path):
    """All channels of a WAV (a server recording may be stereo), as a (frames, channels) array,
    and the rate; a file still open (sizes not written yet) is read up to its end."""
    raw = open(path, "rb").read()
    fmt = raw.find(b"fmt ")
    channels, rate = struct.unpack_from("<HI", raw, fmt + 10)
    data = raw.find(b"data")
    body = raw[data + 8:]
    size = struct.unpack_from("<I", raw, data + 4)[0]
    if 0 < size <= len(body):
        body = body[:size]
    frame = 2 * channels
    x = np.frombuffer(body[: len(body) // frame * frame], dtype="<i2").astype(np.float64)
    return x.reshape(-1, channels), rate


def tone_level(x, rate, freq):
    """RMS amplitude (in 16-bit sample units) of the signal within ±20 Hz of `freq`: a full
    tone of amplitude A gives about A/√2, silence about 0, whatever else is in the signal."""
    if len(x) == 0:
        return 0.0
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / rate)
    spec[(f < freq - 20) | (f > freq + 20)] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spec, len(x)) ** 2)))

