"""Issue 5, must-show 2: a live dialplan reload (SIGHUP, as the README documents) while 20 PJSIP
callers sit in a menu. None is dropped; each one's digit takes it where the plan it started on
says (its `call.queued` event names the old queue); a call placed after the reload follows the
new plan. Then a broken file is refused: the log and the supervisors' API name its
`file:line:column`, `helpline_config_reload_errors_total` counts it, and a new call still
follows the last good plan."""
import json
import pathlib
import re
import signal
import subprocess
import sys

from conftest import REPO
from agent_socket import login

SUPPORT = "+442079460000"
VOICE = str(REPO / "dialplans" / "prompts" / "en" / "thank-you.wav")
CALLERS = 20

# A one-menu plan: "3" queues the caller (no input hangs up, so only the digit queues). The menu waits long enough for all callers to be in
# it while the plan changes under them.
PLAN = """[plan]
languages = ["en"]

[[entry]]
number = "{number}"
start = "menu"

[nodes.menu]
kind = "menu"
prompt = "main_menu"
choices = {{ "3" = "queue" }}
timeout_secs = 45
retries = 0
fallback = "bye"

[nodes.bye]
kind = "hangup"
prompt = "goodbye"

[nodes.queue]
kind = "enqueue"
queue = "{queue}"
"""


def write_plan(d, queue):
    (d / "reload.toml").write_text(PLAN.format(number=SUPPORT, queue=queue))


def queued_to(server, cid):
    rows = server.query(f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = 'call.queued'")
    return [json.loads(p)["queue"] for (p,) in rows]


def ended(server, cid):
    return server.query(f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = 'call.ended'")


def in_menu(server, cid):
    return server.query(f"SELECT 1 FROM events WHERE call_id = '{cid}' AND kind = 'ivr.step' "
                        "AND payload LIKE '%\"node\":\"menu\"%' AND payload LIKE '%node_entered%'")


def reload_errors(server):
    _, body, _ = server.http("/metrics")
    m = re.search(r'^helpline_config_reload_errors_total\{kind="dialplan"\} (\d+)', body, re.M)
    return int(m.group(1)) if m else 0


def place(ua, caller, server):
    call = caller.call(f"sip:{SUPPORT}@{server.sip_uri_host}", play=VOICE)
    return call


class Worker:
    """Four PJSIP calls in a process of their own (see ua_worker.py)."""

    def __init__(self, n):
        self.proc = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).with_name("ua_worker.py")),
                                      f"sip:+4477009004{n:02d}@127.0.0.1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def answer(self):
        return json.loads(self.proc.stdout.readline())

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


def test_reload_with_twenty_callers_mid_menu(ua, make_server, tmp_path):
    plans = tmp_path / "plans"
    plans.mkdir()
    write_plan(plans, "network")
    s = make_server("sqlite", dialplans=plans)
    caller = ua.caller("sip:+447700900321@127.0.0.1")

    workers = [Worker(i) for i in range(CALLERS // 4)]
    try:
        run_reload(ua, s, plans, caller, workers)
    finally:
        for w in workers:
            w.close()


def run_reload(ua, s, plans, caller, workers):
    for w in workers:
        w.send(op="call", uri=f"sip:{SUPPORT}@{s.sip_uri_host}", n=4, play=VOICE)
    answers = [w.answer() for w in workers]
    assert all("cids" in a for a in answers), answers
    cids = [cid for a in answers for cid in a["cids"]]
    assert len(set(cids)) == CALLERS
    ua.wait(lambda: all(in_menu(s, c) for c in cids), timeout=15, what="all callers in the menu")

    # The operator changes where "3" goes and reloads.
    write_plan(plans, "hardware")
    s.proc.send_signal(signal.SIGHUP)
    ua.wait(lambda: "dialplans reloaded" in s.log_text(), timeout=10, what="reload logged")

    for w in workers:
        w.send(op="dtmf", digits="3")
    assert all(w.answer().get("ok") for w in workers)
    ua.wait(lambda: all(queued_to(s, c) for c in cids), timeout=15, what="all 20 queued")
    assert [queued_to(s, c) for c in cids] == [["network"]] * CALLERS, \
        "calls in the menu during the reload finish on the plan they started with"
    for w in workers:
        w.send(op="states")
    states = [st for w in workers for st in w.answer()["states"]]
    assert states == ["CONFIRMED"] * CALLERS, states
    assert not any(ended(s, c) for c in cids), "no caller was dropped"

    fresh = place(ua, caller, s)
    ua.wait(lambda: fresh.state == "CONFIRMED" and fresh.media_active, what="new call answered")
    ua.wait(lambda: in_menu(s, fresh.cid), what="new call in the menu")
    fresh.dtmf("3")
    ua.wait(lambda: queued_to(s, fresh.cid), what="new call queued")
    assert queued_to(s, fresh.cid) == ["hardware"], "a call after the reload takes the new plan"

    fresh.hangup()
    for w in workers:
        w.send(op="hangup")
    assert all(w.answer()["states"] == ["DISCONNECTED"] * 4 for w in workers)
    ua.wait(lambda: fresh.state == "DISCONNECTED", what="hung up")

    # A broken file: "3" leads to a node that does not exist. Refused, old plan keeps running.
    broken = PLAN.format(number=SUPPORT, queue="hardware").replace('"3" = "queue"', '"3" = "nowhere"')
    (plans / "reload.toml").write_text(broken)
    line = next(i for i, l in enumerate(broken.splitlines(), 1) if "nowhere" in l)
    before = reload_errors(s)
    s.proc.send_signal(signal.SIGHUP)
    ua.wait(lambda: "dialplan reload refused" in s.log_text(), timeout=10, what="refusal logged")
    refusal = [l for l in s.log_text().splitlines() if "dialplan reload refused" in l]
    assert any(re.search(rf"reload\.toml:{line}:\d+", l) for l in refusal), refusal
    assert reload_errors(s) == before + 1

    cookie = login(s, "super1", "super1-pw")
    status, body, _ = s.http("/api/supervisor/dialplans", headers={"Cookie": cookie})
    assert status == 200, body
    seen = json.loads(body)
    assert seen["version"] == 2 and seen["refused_reloads"] == 1, seen
    assert any(re.search(rf"reload\.toml:{line}:\d+: .*nowhere", e) for e in seen["last_error"]), seen

    after = place(ua, caller, s)
    ua.wait(lambda: after.state == "CONFIRMED" and after.media_active, what="call after refusal")
    ua.wait(lambda: in_menu(s, after.cid), what="call after refusal in the menu")
    after.dtmf("3")
    ua.wait(lambda: queued_to(s, after.cid), what="call after refusal queued")
    assert queued_to(s, after.cid) == ["hardware"], "the refused file changed nothing"
    after.hangup()
    ua.wait(lambda: after.state == "DISCONNECTED")
