"""AgentBrowser: drives headless Chromium through tests/e2e/agent_browser.mjs (playwright-core) with
one JSON command per line. Skips the calling test when node, Chromium or playwright-core is missing.

    b = AgentBrowser(fake_audio="/tmp/tone.wav")
    b.start()
    b.send({"cmd": "login", "base": server.base, "user": "agent1", "password": "agent1-pw"})
    b.send("set_state", state="available")
    ring = b.send("wait_ringing", timeout_ms=10000)
    b.close()

Environment: CHROMIUM (default /usr/bin/chromium), NODE_PATH (where playwright-core lives, when it
is not in tests/e2e/node_modules), FAKE_AUDIO (a WAV for the fake microphone).
"""
import json
import os
import pathlib
import queue
import shutil
import subprocess
import tempfile
import threading

import pytest

HERE = pathlib.Path(__file__).resolve().parent
DRIVER = HERE / "agent_browser.mjs"


def missing_prerequisite():
    """Why the browser tests cannot run here, or None when they can."""
    node = shutil.which("node")
    if not node:
        return "node is not installed (apt-get install nodejs npm)"
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return f"Chromium not found at {chromium} (apt-get install chromium, or set CHROMIUM)"
    probe = subprocess.run([node, "-e", "require.resolve('playwright-core')"], cwd=HERE,
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "playwright-core is not installed (npm install --prefix tests/e2e, or set NODE_PATH)"
    return None


class AgentBrowser:
    """One Chromium with one page, driven by agent_browser.mjs."""

    def __init__(self, fake_audio=None, chromium=None, timeout_ms=10000, log_path=None):
        self.fake_audio = fake_audio
        self.chromium = chromium
        self.timeout_ms = timeout_ms
        self.log_path = log_path
        self.proc = None
        self._lines = queue.Queue()
        self._log = None
        self.console_errors = []   # every console error any reply reported

    def start(self):
        reason = missing_prerequisite()
        if reason:
            pytest.skip(reason)
        env = dict(os.environ)
        env["DRIVER_TIMEOUT_MS"] = str(self.timeout_ms)
        if self.chromium:
            env["CHROMIUM"] = str(self.chromium)
        if self.fake_audio:
            env["FAKE_AUDIO"] = str(self.fake_audio)
        if self.log_path:
            self._log = open(self.log_path, "w")
        else:
            self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(["node", str(DRIVER)], cwd=HERE, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._reply(60)
        if not ready.get("ok"):
            self.close()
            raise RuntimeError(f"browser driver did not start: {ready.get('error')} {self._stderr_tail()}")
        self.version = ready.get("browser")
        return self

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _stderr_tail(self):
        try:
            if self.log_path:
                return pathlib.Path(self.log_path).read_text()[-2000:]
            self._log.seek(0)
            return self._log.read()[-2000:]
        except Exception:
            return ""

    def _reply(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"browser driver gave no answer in {timeout:.0f} s")
        if line is None:
            raise RuntimeError(f"browser driver exited (code {self.proc.poll()}): {self._stderr_tail()}")
        return json.loads(line)

    def send(self, cmd, timeout=None, **fields):
        """Send one command (a dict, or a name plus fields); return the reply dict."""
        msg = dict(cmd) if isinstance(cmd, dict) else {"cmd": cmd}
        msg.update(fields)
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("browser driver is not running")
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        wait = timeout or (msg.get("timeout_ms", self.timeout_ms) / 1000 + 30)
        reply = self._reply(wait)
        self.console_errors.extend(reply.get("console_errors", []) if msg["cmd"] != "console_errors" else [])
        return reply

    def must(self, cmd, **fields):
        """send(), failing the test when the reply is not ok."""
        reply = self.send(cmd, **fields)
        assert reply.get("ok"), f"browser {cmd if isinstance(cmd, str) else cmd.get('cmd')}: {reply}"
        return reply

    def close(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
