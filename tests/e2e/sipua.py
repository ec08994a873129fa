"""A real SIP user agent for the end-to-end tests: PJSIP's Python binding (pjsua2).

One pjsua2 Endpoint per test process (the library allows only one). It runs with no worker
threads: every wait pumps the library's event loop from the test thread, so callbacks and
assertions never race. Audio uses the null sound device; calls can play and record WAV files.
"""
import os
import time

import pjsua2 as pj

LOCAL = "127.0.0.1"

# Every Call and Account wrapper ever made stays referenced: PJSIP's SWIG destructors assert when
# they run for a call the library already freed, so none may run before the process exits.
_KEEP = []


class Endpoint:
    """The process-wide pjsua2 endpoint with UDP and TCP transports on loopback."""

    def __init__(self, log_level=int(os.environ.get("PJ_LOG", "1"))):
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 32  # asked; this wheel's PJSUA_MAX_CALLS caps it at 4 at once
        cfg.logConfig.level = log_level
        cfg.logConfig.consoleLevel = log_level
        cfg.medConfig.noVad = True
        # Narrowband conference bridge: recordings are 8 kHz like the prompts they are compared to.
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.ecTailLen = 0
        self.ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.boundAddress = LOCAL
        tc.publicAddress = LOCAL
        tc.port = 0
        self.udp = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.tcp = self.ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tc)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        # Narrowband G.711 only, as a desk phone or trunk would offer.
        for c in self.ep.codecEnum2():
            prio = 255 if c.codecId.startswith(("PCMU/", "PCMA/")) else 0
            self.ep.codecSetPriority(c.codecId, prio)
        self.udp_port = int(self.ep.transportGetInfo(self.udp).localName.rsplit(":", 1)[1])
        self._callers = {}

    def caller(self, uri, transport="udp"):
        """A non-registering caller account, made once per URI and transport: PJSIP allows
        only a handful of accounts per process (PJSUA_MAX_ACC)."""
        key = (uri, transport)
        if key not in self._callers:
            self._callers[key] = Account(self, uri, transport=transport)
        return self._callers[key]

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ep.libHandleEvents(10)

    def wait(self, cond, timeout=10.0, what="condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            self.ep.libHandleEvents(10)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def close(self):
        # No libDestroy(): Call/Account wrappers still alive would call into a destroyed
        # library from their destructors at interpreter exit (a pjsua assertion aborts).
        self.ep.hangupAllCalls()
        self.pump(0.3)


class Call(pj.Call):
    """A call that remembers what happened to it."""

    def __init__(self, acc, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        _KEEP.append(self)
        self.states = []
        self.last_code = None
        self.digits = []
        self.media_active = False
        self.player = None
        self.recorder = None
        self.pending_play = None
        self.pending_record = None
        self.cid = None
        self.state_times = []   # (time.monotonic(), state text), as the states arrive
        self.received = []      # (time.monotonic(), method, whole message) of requests received

    # --- callbacks ---
    def onCallState(self, prm):
        try:
            ci = self.getInfo()
        except pj.Error:
            return
        self.cid = self.cid or ci.callIdString
        self.states.append(ci.stateText)
        self.state_times.append((time.monotonic(), ci.stateText))
        self.last_code = ci.lastStatusCode

    def onCallTsxState(self, prm):
        # A request from the far end starting a transaction (CANCEL, BYE, re-INVITE...): keep
        # it whole, headers and all (a CANCEL's Reason, say); PJSIP reports a received CANCEL
        # here before the call's state goes DISCONNECTED.
        try:
            ts = prm.e.body.tsxState
            if ts.type == pj.PJSIP_EVENT_RX_MSG and ts.tsx.role == pj.PJSIP_ROLE_UAS \
                    and ts.tsx.state == pj.PJSIP_TSX_STATE_TRYING:
                self.received.append((time.monotonic(), ts.tsx.method, ts.src.rdata.wholeMsg))
        except Exception:       # never let a note-taking callback raise into PJSIP
            pass

    def onCallMediaState(self, prm):
        try:
            ci = self.getInfo()
        except pj.Error:
            return
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media_active = True
                media = self.getAudioMedia(i)
                if self.pending_record and self.recorder is None:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(self.pending_record)
                if self.recorder is not None:
                    # Again after a re-INVITE (hold/unhold): the stream may have a new port.
                    media.startTransmit(self.recorder)
                if self.pending_play and self.player is None:
                    path, loop = self.pending_play
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(path, 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
                if self.player is not None:
                    self.player.startTransmit(media)

    def onDtmfDigit(self, prm):
        self.digits.append(prm.digit)

    # --- helpers ---
    def media_status(self):
        """Status of the first audio stream (PJSUA_CALL_MEDIA_ACTIVE, _LOCAL_HOLD, ...)."""
        ci = self.getInfo()
        for mi in ci.media:
            if mi.type == pj.PJMEDIA_TYPE_AUDIO:
                return mi.status
        return None

    def requests_of(self, method):
        """(arrival time, whole message) of each `method` request received in this call."""
        return [(t, m) for t, meth, m in self.received if meth == method]

    def state_time(self, state):
        """When this call first reached `state` (time.monotonic()), or None."""
        return next((t for t, s in self.state_times if s == state), None)

    @property
    def state(self):
        return self.states[-1] if self.states else None

    def play(self, wav, loop=True):
        """Play a WAV file to the far end once media is up."""
        self.pending_play = (wav, loop)

    def record(self, wav):
        """Record what the far end sends into a WAV file."""
        self.pending_record = wav

    def stop_recording(self):
        if self.recorder is not None:
            del self.recorder
            self.recorder = None

    def release_media(self):
        """Destroy this call's WAV player and recorder: PJSIP has only PJSUA_MAX_PLAYERS (32)
        and PJSUA_MAX_RECORDERS (32) for the whole run. Not from a callback."""
        self.stop_recording()
        if self.player is not None:
            del self.player
            self.player = None
        self.pending_play = self.pending_record = None

    def record_now(self, wav):
        """Close any recording and record what the far end sends from now on into `wav`."""
        self.stop_recording()
        self.pending_record = wav
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(wav)
                self.getAudioMedia(i).startTransmit(self.recorder)
                return
        raise AssertionError("no audio stream to record")

    def dtmf(self, digits):
        prm = pj.CallSendDtmfParam()
        prm.method = pj.PJSUA_DTMF_METHOD_RFC2833
        prm.digits = digits
        self.sendDtmf(prm)

    def hangup(self, code=0):
        prm = pj.CallOpParam()
        prm.statusCode = code
        super().hangup(prm)

    def hold(self):
        self.setHold(pj.CallOpParam(True))

    def unhold(self):
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        self.reinvite(prm)


class Account(pj.Account):
    """A SIP account: anonymous caller (no registration) or a registering desk phone."""

    def __init__(self, endpoint, uri, registrar=None, username=None, password=None,
                 realm="*", transport="udp", auto_answer=None, proxy=None):
        super().__init__()
        _KEEP.append(self)
        self.endpoint = endpoint
        self.incoming = []
        self.closed = False
        self.is_phone = registrar is not None
        self.reg_codes = []
        self.auto_answer = auto_answer  # e.g. 200 to answer, 180 to just ring
        cfg = pj.AccountConfig()
        cfg.idUri = uri
        cfg.sipConfig.transportId = endpoint.udp if transport == "udp" else endpoint.tcp
        if registrar:
            cfg.regConfig.registrarUri = registrar
            cfg.regConfig.timeoutSec = 300
            cfg.regConfig.retryIntervalSec = 0
        else:
            cfg.regConfig.registerOnAdd = False
        if proxy:
            cfg.sipConfig.proxies.append(proxy)
        if username:
            cred = pj.AuthCredInfo("digest", realm, username, 0, password)
            cfg.sipConfig.authCreds.append(cred)
        cfg.natConfig.sdpNatRewriteUse = False
        cfg.natConfig.viaRewriteUse = False
        cfg.natConfig.contactRewriteUse = False
        cfg.mediaConfig.transportConfig.boundAddress = LOCAL
        cfg.mediaConfig.transportConfig.publicAddress = LOCAL
        if os.environ.get("SIPUA_DEBUG"):
            live = [a.uri for a in _KEEP if isinstance(a, Account) and not a.closed and a is not self]
            print(f"sipua: creating {uri}; open accounts: {live}", flush=True)
        self.uri = uri
        self.create(cfg)

    def shutdown(self):
        """Unregister and delete the account (frees one of PJSIP's few account slots)."""
        if not self.closed:
            self.closed = True
            super().shutdown()

    def onRegState(self, prm):
        self.reg_codes.append(prm.code)

    def onIncomingCall(self, prm):
        call = Call(self, prm.callId)
        self.incoming.append(call)
        if self.auto_answer:
            op = pj.CallOpParam()
            op.statusCode = self.auto_answer
            call.answer(op)

    def call(self, uri, record=None, play=None, headers=None):
        """`headers`: extra headers for the INVITE, e.g. {"P-Asserted-Identity": "<sip:...>"}."""
        c = Call(self)
        if record:
            c.record(record)
        if play:
            c.play(play)
        prm = pj.CallOpParam(True)
        for name, value in (headers or {}).items():
            h = pj.SipHeader()
            h.hName = name
            h.hValue = value
            prm.txOption.headers.append(h)
        c.makeCall(uri, prm)
        return c

    def answer(self, call, code=200):
        op = pj.CallOpParam()
        op.statusCode = code
        call.answer(op)


def shutdown_accounts(endpoint):
    """After a test: delete every account it left open (all but the endpoint's cached callers):
    PJSIP has only PJSUA_MAX_ACC (8) account slots for the whole run; and free the players and
    recorders of its calls (32 of each for the run)."""
    for c in _KEEP:
        if isinstance(c, Call):
            c.release_media()
    cached = {id(a) for a in endpoint._callers.values()}
    for a in _KEEP:
        if isinstance(a, Account) and not a.closed and id(a) not in cached:
            try:
                a.shutdown()
            except Exception:
                pass
