"""Issue 13, the server's life cycle with real PJSIP phones: a wrap-up the agent has not sent
when the server gets SIGTERM is not lost (the call's interaction is stored, without a
disposition, before the store closes); a `kill -9` while caller and agent talk leaves the call
open only until the restart, which stores it as ended (`server_lost`) and takes the agent out
of it."""
import signal

import pytest

from agent_socket import AgentSocket, login
from conftest import BACKENDS
from sipua import Account
from test_crm import dial_network_queue
from test_ivr import plan_with_hours


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_with_a_wrap_up_pending_stores_the_interaction(ua, make_server, tmp_path, backend):
    s = make_server(backend, dialplans=plan_with_hours(tmp_path, True))
    page = AgentSocket(s, login(s, "agent1", "agent1-pw"))
    page.wait("hello")
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    page.send(type="set_state", state="available")
    page.wait("state", pump=ua.pump, where=lambda m: m["state"] == "available")

    call, _ = dial_network_queue(ua, s)
    offer = page.wait("offer", pump=ua.pump, timeout=25)
    call_id = offer["call_id"]
    ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "EARLY", what="desk phone rings")
    ringing = phone.incoming[-1]
    phone.answer(ringing, 200)
    ua.wait(lambda: ringing.state == "CONFIRMED", what="agent answered")
    page.wait("call", pump=ua.pump, where=lambda m: m["call_id"] == call_id)
    ua.pump(2.0)
    call.hangup()
    page.wait("call_ended", pump=ua.pump)
    page.wait("wrapup", pump=ua.pump)          # the page shows the wrap-up; the agent sends nothing
    ua.pump(0.5)
    assert s.query(f"SELECT 1 FROM interactions WHERE call_id = '{call_id}'") == [], \
        "nothing stored while the wrap-up is pending"

    assert s.stop(signal.SIGTERM) == 0, s.log_text()
    assert "interaction stored without a disposition" in s.log_text()
    page.close()
    phone.shutdown()

    s.start()                                   # same config and database
    rows = s.query(f"SELECT agent, disposition, talk_ms, abandoned FROM interactions "
                   f"WHERE call_id = '{call_id}'")
    assert len(rows) == 1, rows
    agent, disposition, talk_ms, abandoned = rows[0]
    assert (agent, disposition, abandoned) == ("agent1", "", "0"), rows
    assert int(talk_ms) >= 1500, rows
    ended = s.query(f"SELECT cause FROM calls WHERE call_id = '{call_id}'")
    assert ended and ended[0][0] != "server_lost", ended


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_mid_call_then_restart_ends_the_call_as_server_lost_and_frees_the_agent(
        ua, make_server, tmp_path, backend):
    s = make_server(backend, dialplans=plan_with_hours(tmp_path, True))
    page = AgentSocket(s, login(s, "agent1", "agent1-pw"))
    page.wait("hello")
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=200)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    page.send(type="set_state", state="available")
    page.wait("state", pump=ua.pump, where=lambda m: m["state"] == "available")

    call, _ = dial_network_queue(ua, s)
    offer = page.wait("offer", pump=ua.pump, timeout=25)
    call_id = offer["call_id"]
    page.wait("call", pump=ua.pump, where=lambda m: m["call_id"] == call_id)
    s.wait_rows(f"SELECT 1 FROM agent_state WHERE agent_id = 'agent1' AND state = 'on-call' "
                f"AND call_id = '{call_id}'", 1)
    assert s.query(f"SELECT ended_ms, node_id, incarnation FROM calls WHERE call_id = '{call_id}'") \
        == [("", "1", "1")]

    s.proc.kill()                                # kill -9 while caller and agent talk
    s.proc.wait()
    page.close()
    s.start()
    assert s.query(f"SELECT cause FROM calls WHERE call_id = '{call_id}' AND ended_ms IS NOT NULL") \
        == [("server_lost",)]
    ended = s.query(f"SELECT payload FROM events WHERE call_id = '{call_id}' AND kind = 'call.ended'")
    assert len(ended) == 1 and "server_lost" in ended[0][0], ended
    assert s.query("SELECT state, reason, call_id FROM agent_state WHERE agent_id = 'agent1'") \
        == [("not-ready", "restart", "")], "the agent is out of the lost call"
    call.hangup()
    phone.shutdown()
