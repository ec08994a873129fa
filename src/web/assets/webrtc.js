// helpline agent audio: the browser end of the server's WebRTC leg (non-trickle ICE), the remote
// audio element, a WebAudio analyser on the remote stream (test hook) and the ring sound.
// Exposes window.RTC and fills window.helpline.pc / .remoteStream / window.helplineToneLevel.
'use strict';
(function () {
  const hl = (window.helpline = window.helpline || {});
  hl.pc = null;
  hl.remoteStream = null;
  let mic = null; // kept across calls: asking for the microphone once per shift is enough
  let micPromise = null;
  let current = null; // {call_id, pc, ready: Promise<string>}
  let ctx = null, analyser = null, source = null;

  const audioEl = () => document.getElementById('remote-audio');

  function audioCtx() {
    if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    return ctx;
  }

  function getMic() {
    if (mic && mic.getAudioTracks().some((t) => t.readyState === 'live')) return Promise.resolve(mic);
    if (!micPromise) {
      micPromise = navigator.mediaDevices.getUserMedia({ audio: true }).then(
        (s) => { mic = s; micPromise = null; return s; },
        (e) => { micPromise = null; throw e; });
    }
    return micPromise;
  }

  // Non-trickle: the answer goes out only once every candidate is in the local description.
  function iceComplete(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', onState);
        pc.removeEventListener('icecandidate', onCand);
        resolve();
      };
      const onState = () => { if (pc.iceGatheringState === 'complete') finish(); };
      const onCand = (e) => { if (!e.candidate) finish(); };
      const timer = setTimeout(finish, ms); // send what we have rather than let the call ring out
      pc.addEventListener('icegatheringstatechange', onState);
      pc.addEventListener('icecandidate', onCand);
    });
  }

  function attachRemote(stream) {
    hl.remoteStream = stream;
    const a = audioEl();
    if (a && a.srcObject !== stream) {
      a.srcObject = stream;
      // Chromium only feeds a remote track into WebAudio while a media element plays it.
      a.play().catch((e) => console.warn('remote audio play() refused:', e.message));
    }
    try {
      const c = audioCtx();
      if (source) source.disconnect();
      source = c.createMediaStreamSource(stream);
      if (!analyser) {
        analyser = c.createAnalyser();
        analyser.fftSize = 8192;
        analyser.smoothingTimeConstant = 0.3;
      }
      source.connect(analyser); // an analyser needs no route to the speakers
    } catch (e) {
      console.warn('audio analyser unavailable:', e.message);
    }
  }

  async function build(offer, pc) {
    pc.ontrack = (e) => attachRemote(e.streams[0] || new MediaStream([e.track]));
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.webrtc.sdp });
    const stream = await getMic();
    for (const t of stream.getAudioTracks()) { t.enabled = true; pc.addTrack(t, stream); }
    await pc.setLocalDescription(await pc.createAnswer());
    await iceComplete(pc, 5000);
    return pc.localDescription.sdp;
  }

  const RTC = (window.RTC = {
    // Start on an `offer` with webrtc.sdp, while it rings, so that Answer is instant.
    prepare(offer) {
      if (!offer || !offer.webrtc || !offer.webrtc.sdp) return;
      // Same call and same server offer: keep it. A new SDP for the same call (a `hello` after a
      // reconnect) means a new session, so start over.
      if (current && current.call_id === offer.call_id && current.sdp === offer.webrtc.sdp) return;
      RTC.close();
      const pc = new RTCPeerConnection({ iceServers: [] });
      hl.pc = pc;
      const entry = { call_id: offer.call_id, sdp: offer.webrtc.sdp, pc, ready: null };
      entry.ready = build(offer, pc);
      entry.ready.catch((e) => console.warn('WebRTC setup failed:', e.name, e.message));
      current = entry;
    },
    has(callId) { return !!current && current.call_id === callId; },
    // The page already runs (or ran) this exact server offer for the call.
    hasSdp(callId, sdp) { return !!current && current.call_id === callId && current.sdp === sdp; },
    // The SDP answer for Answer; rejects when there is none or it failed.
    answerSdp(callId) {
      audioCtx(); // a user gesture: let the audio context run
      const a = audioEl();
      if (a && a.paused && a.srcObject) a.play().catch(() => {});
      if (!current || current.call_id !== callId) return Promise.reject(new Error('no audio offer for this call'));
      return current.ready;
    },
    close(callId) {
      if (!current || (callId && current.call_id !== callId)) return;
      try { current.pc.close(); } catch (_) { /* already closed */ }
      current = null;
      const a = audioEl();
      if (a) a.srcObject = null;
      if (source) { source.disconnect(); source = null; }
    },
    setMuted(on) { if (mic) for (const t of mic.getAudioTracks()) t.enabled = !on; },
    connected() { return !!current && ['connected', 'completed'].includes(current.pc.iceConnectionState); },
  });

  // dB at `hz` in the remote audio right now (max over the nearest bins), or null before any
  // remote audio; -200 stands for silence (JSON has no -Infinity).
  window.helplineToneLevel = hl.toneLevel = function (hz) {
    if (!analyser || !ctx) return null;
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    const i = Math.round(hz / (ctx.sampleRate / analyser.fftSize));
    let best = -Infinity;
    for (let k = Math.max(0, i - 2); k <= Math.min(bins.length - 1, i + 2); k++) best = Math.max(best, bins[k]);
    return isFinite(best) ? Math.round(best * 10) / 10 : -200;
  };

  // Ring sound: 400+450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off.
  let ringTimer = null, ringGain = null, ringOsc = [];
  RTC.ring = function (on) {
    if (!on) {
      if (ringTimer) clearInterval(ringTimer);
      ringTimer = null;
      for (const o of ringOsc) { try { o.stop(); } catch (_) { /* never started */ } }
      ringOsc = [];
      if (ringGain) { ringGain.disconnect(); ringGain = null; }
      return;
    }
    if (ringTimer) return;
    let c;
    try { c = audioCtx(); } catch (_) { return; }
    ringGain = c.createGain();
    ringGain.gain.value = 0;
    ringGain.connect(c.destination);
    for (const f of [400, 450]) {
      const o = c.createOscillator();
      o.frequency.value = f;
      o.connect(ringGain);
      o.start();
      ringOsc.push(o);
    }
    const burst = () => {
      if (!ringGain) return;
      const t = c.currentTime, g = ringGain.gain;
      g.setValueAtTime(0.06, t); g.setValueAtTime(0, t + 0.4);
      g.setValueAtTime(0.06, t + 0.6); g.setValueAtTime(0, t + 1.0);
    };
    burst();
    ringTimer = setInterval(burst, 3000);
  };
})();
