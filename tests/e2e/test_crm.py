"""Issue 7: the screen-pop and the outcome stored with the ticket. A real PJSIP caller whose
number matches a contact with two open tickets is offered to an agent; the agent's socket
receives the pop (contact and both tickets) while the desk phone still rings; after the call the
wrap-up stores disposition and notes, and the ticket holds the interaction with wait and talk
seconds matching the call. Also: who may read which pop."""
import json
import subprocess
import time

import pytest
from websockets.exceptions import InvalidStatus

from agent_socket import AgentSocket, get, login
from conftest import BACKENDS, BIN
from sipua import Account
from test_ivr import VOICE, plan_with_hours

SUPPORT = "+442079460000"
CALLER = "+447700900123"       # what ua.caller() below presents

CONTACTS = """name,organisation,phones,email,account,vip
Ada Tester,Example Ltd,07700 900123,ada@example.com,555001,yes
Bob Other,Other plc,+44 20 7946 0999,,555002,no
"""
TICKETS = """number,account,subject,category,status,priority,created
T-9001,555001,VPN drops hourly,network,open,high,2026-11-20T09:00:00Z
T-9002,555001,Laptop battery,hardware,pending,normal,2026-11-22T09:00:00Z
T-9003,555001,Old printer issue,hardware,closed,low,2026-10-01T09:00:00Z
T-482913,555002,Server room overheating,network,open,high,2026-11-21T09:00:00Z
"""


def cli(server, *args, ok=True):
    r = subprocess.run([str(BIN), "--config", str(server.config), *args],
                       capture_output=True, text=True, timeout=60)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def crm_server(make_server, tmp_path, backend):
    s = make_server(backend, dialplans=plan_with_hours(tmp_path, True))
    cli(s, "demo-data")              # the knowledge base (and demo contacts that do not match)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    (tmp_path / "tickets.csv").write_text(TICKETS)
    cli(s, "import", "contacts", str(tmp_path / "contacts.csv"))
    cli(s, "import", "tickets", str(tmp_path / "tickets.csv"))
    return s


def dial_network_queue(ua, s):
    call = ua.caller(f"sip:{CALLER}@127.0.0.1").call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")   # English
    ua.pump(1.0)
    call.dtmf("3")   # network → queue "network"
    return call, time.monotonic()


@pytest.mark.parametrize("backend", BACKENDS)
def test_pop_before_answer_and_outcome_stored_with_the_ticket(ua, make_server, tmp_path, backend):
    s = crm_server(make_server, tmp_path, backend)
    cookie = login(s, "agent1", "agent1-pw")
    page = AgentSocket(s, cookie)
    hello = page.wait("hello")
    assert hello["agent"] == "agent1" and hello["dispositions"]
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    page.send(type="set_state", state="available")
    page.wait("state", pump=ua.pump, where=lambda m: m["state"] == "available")

    call, dialled_at = dial_network_queue(ua, s)
    offer = page.wait("offer", pump=ua.pump, timeout=25)
    rang_at = time.monotonic()
    ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "EARLY", what="desk phone rings")
    ringing = phone.incoming[-1]
    assert ringing.state == "EARLY", "the pop arrived while the phone was still ringing"
    pop = offer["pop"]
    assert pop["status"] == "ok", pop
    assert pop["contact"]["name"] == "Ada Tester" and pop["contact"]["vip"] is True
    assert [t["number"] for t in pop["tickets"]] == ["T-9001", "T-9002"], \
        "both open tickets, the high-priority one first; the closed one is not shown"
    assert pop["caller"] == CALLER
    assert "network" in pop["ivr"]["path"] or pop["ivr"]["choice"], pop["ivr"]
    assert any("VPN" in a["title"] or "network" in a["title"].lower() for a in pop["articles"]), pop["articles"]

    ua.pump(2.0)                           # let it ring a little: wait time > 0
    phone.answer(ringing, 200)
    ua.wait(lambda: ringing.state == "CONFIRMED", what="agent answered")
    answered_at = time.monotonic()
    page.wait("call", pump=ua.pump, where=lambda m: m["call_id"] == offer["call_id"])
    ua.pump(3.0)
    call.hangup()
    hung_up_at = time.monotonic()
    ended = page.wait("call_ended", pump=ua.pump)
    assert ended["by"] == "caller"
    page.wait("wrapup", pump=ua.pump)
    page.send(type="wrapup", call_id=offer["call_id"], disposition="resolved",
              notes="Reinstalled the VPN client", ticket={"link": "T-9001"}, resolution="resolved")
    saved = page.wait("wrapup_saved", pump=ua.pump)
    assert saved["ticket"]["number"] == "T-9001" and saved["ticket"]["status"] == "resolved"

    rows = s.query(f"SELECT i.wait_ms, i.talk_ms, i.disposition, i.notes, i.agent, i.abandoned, t.status "
                   f"FROM interactions i JOIN tickets t ON t.id = i.ticket_id "
                   f"WHERE i.call_id = '{offer['call_id']}' AND t.number = 'T-9001'")
    assert len(rows) == 1, rows
    wait_ms, talk_ms, disposition, notes, agent, abandoned, status = rows[0]
    assert (disposition, notes, agent, abandoned, status) == \
        ("resolved", "Reinstalled the VPN client", "agent1", "0", "resolved")
    talk = hung_up_at - answered_at
    assert abs(int(talk_ms) / 1000 - talk) < 1.0, (talk_ms, talk)
    # Queued somewhere between the "3" and the phone ringing; answered when PJSIP answered.
    assert answered_at - rang_at - 1.0 <= int(wait_ms) / 1000 <= answered_at - dialled_at + 1.0, \
        (wait_ms, answered_at - rang_at, answered_at - dialled_at)

    # The ticket API shows the call on the ticket, and the agent may read it (they handled it).
    status, body, _ = get(s, "/api/tickets/T-9001", cookie)
    assert status == 200, body
    t = json.loads(body)
    assert [i["call_id"] for i in t["interactions"]] == [offer["call_id"]]
    assert t["first_contact_resolution"] is True
    page.close()
    phone.shutdown()


def test_only_the_offered_agent_reads_the_pop_and_acts_on_the_call(ua, make_server, tmp_path):
    s = crm_server(make_server, tmp_path, "sqlite")
    c1 = login(s, "agent1", "agent1-pw")
    c2 = login(s, "agent2", "agent2-pw")
    sup = login(s, "super1", "super1-pw")
    page1, page2 = AgentSocket(s, c1), AgentSocket(s, c2)
    page1.wait("hello")
    page2.wait("hello")
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    page1.send(type="set_state", state="available")
    call, _ = dial_network_queue(ua, s)
    offer = page1.wait("offer", pump=ua.pump, timeout=25)
    cid = offer["call_id"]
    assert not page2.of("offer"), "agent2 was not offered the call and sees nothing of it"

    status, body, _ = get(s, f"/api/pop/{cid}", c2)
    assert status == 404, "another agent's current caller is not readable"
    status, body, _ = get(s, f"/api/pop/{cid}", c1)
    assert status == 200 and json.loads(body)["contact"]["name"] == "Ada Tester"
    status, body, _ = get(s, f"/api/pop/{cid}", sup)
    assert status == 200, "supervisors may read any live pop"
    contact_id = json.loads(body)["contact"]["id"]
    status, _, _ = get(s, f"/api/contacts/{contact_id}", c2)
    assert status == 404, "nor can agent2 read that caller's contact record"
    status, _, _ = get(s, "/api/contacts", c2)
    assert status == 403, "listing contacts is for supervisors"
    status, _, _ = get(s, "/api/pop/whatever", "")
    assert status == 401

    page2.send(type="reject", call_id=cid)
    err = page2.wait("error", pump=ua.pump)
    assert err["request"] == "reject" and "no call" in err["message"]
    ua.pump(0.5)
    assert phone.incoming[-1].state == "EARLY", "agent2 could not stop agent1's phone ringing"

    page1.send(type="reject", call_id=cid)
    page1.wait("offer_withdrawn", pump=ua.pump, where=lambda m: m["call_id"] == cid)
    ua.wait(lambda: phone.incoming[-1].state == "DISCONNECTED", what="the rejecting agent's phone stops")

    with pytest.raises(InvalidStatus) as no_cookie:
        AgentSocket(s, "helpline_session=forged")
    assert no_cookie.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as foreign:
        AgentSocket(s, c1, origin="http://evil.example")
    assert foreign.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as supervisor:
        AgentSocket(s, sup)
    assert supervisor.value.response.status_code == 403
    call.hangup()
    page1.close()
    page2.close()
    phone.shutdown()


def test_a_csv_with_bad_rows_imports_nothing_and_names_every_bad_line(make_server, tmp_path):
    s = make_server("sqlite")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phones,email,tier\n"
                   "Good Person,020 7946 0001,good@example.com,1\n"
                   ",020 7946 0002,,1\n"
                   "Bad Phone,not-a-number,,1\n"
                   "Bad Tier,,x@example.com,9\n")
    r = cli(s, "import", "contacts", str(bad), ok=False)
    assert r.returncode != 0
    assert f"{bad}:3: name is empty" in r.stderr, r.stderr
    assert f"{bad}:4: phone `not-a-number`" in r.stderr
    assert f"{bad}:5: tier `9`" in r.stderr
    assert "nothing imported" in r.stderr
    assert s.query("SELECT COUNT(*) FROM contacts WHERE name = 'Good Person'") == [("0",)]


def test_external_crm_down_the_call_still_rings_and_the_outcome_arrives_once_it_is_back(
        ua, make_server, tmp_path):
    from fake_crm import FakeCrm, sample_data
    data = sample_data()
    data["contacts"][0]["phones"] = [CALLER]          # Ada is our PJSIP caller
    crm = FakeCrm(data=data).start()
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True), extra=f"""
[crm]
provider = "http"
pop_timeout_ms = 300
[crm.http]
base_url = "{crm.base_url}"
timeout_ms = 200
breaker_failures = 2
breaker_cooldown_ms = 500
""")
    try:
        cookie = login(s, "agent1", "agent1-pw")
        page = AgentSocket(s, cookie)
        page.wait("hello")
        phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                        username="agent1", password="agent1-pw", auto_answer=180)
        ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
        page.send(type="set_state", state="available")

        # With the CRM up the pop comes from it.
        call, _ = dial_network_queue(ua, s)
        offer = page.wait("offer", pump=ua.pump, timeout=25)
        assert offer["pop"]["status"] == "ok" and offer["pop"]["contact"]["id"] == "c-ada", offer["pop"]
        call.hangup()
        page.wait("offer_withdrawn", pump=ua.pump)

        crm.stop()
        call, _ = dial_network_queue(ua, s)
        offer = page.wait("offer", pump=ua.pump, timeout=25,
                          where=lambda m: m["call_id"] != offer["call_id"])
        assert offer["pop"]["status"] == "unavailable", offer["pop"]
        ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "EARLY", what="the phone rings anyway")
        phone.answer(phone.incoming[-1], 200)
        ua.wait(lambda: phone.incoming[-1].state == "CONFIRMED", what="answered normally")
        ua.pump(1.0)
        call.hangup()
        page.wait("wrapup", pump=ua.pump)
        page.send(type="wrapup", call_id=offer["call_id"], disposition="information",
                  notes="CRM was down", ticket=None, resolution="open")
        saved = page.wait("wrapup_saved", pump=ua.pump)
        key = saved["interaction_id"]
        ua.pump(1.5)
        assert key not in crm.posts, "nothing can be delivered while the CRM is down"
        pending = s.query(f"SELECT delivered_ms FROM crm_outbox WHERE interaction_id = '{key}'")
        assert pending == [("",)], pending

        crm.restart()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and key not in crm.posts:
            ua.pump(0.2)
        assert crm.posts.get(key) == 1, crm.posts
        ua.pump(3.0)
        assert crm.posts.get(key) == 1, "delivered once, not again"
        assert crm.stored[key]["wrapup"]["notes"] == "CRM was down"
        s.wait_rows(f"SELECT 1 FROM crm_outbox WHERE interaction_id = '{key}' AND delivered_ms IS NOT NULL", 1)
        page.close()
        phone.shutdown()
    finally:
        crm.stop()


def test_blind_transfer_to_another_queue_rings_an_agent_there(ua, make_server, tmp_path):
    s = crm_server(make_server, tmp_path, "sqlite")
    page = AgentSocket(s, login(s, "agent1", "agent1-pw"))
    page.wait("hello")
    p1 = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                 username="agent1", password="agent1-pw", auto_answer=200)
    ua.wait(lambda: 200 in p1.reg_codes, what="agent1 registered")
    page.send(type="set_state", state="available")
    call, _ = dial_network_queue(ua, s)
    offer = page.wait("offer", pump=ua.pump, timeout=25)
    page.wait("call", pump=ua.pump, where=lambda m: m["call_id"] == offer["call_id"])
    p2 = Account(ua, "sip:agent2@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                 username="agent2", password="agent2-pw", auto_answer=180)
    ua.wait(lambda: 200 in p2.reg_codes, what="agent2 registered")
    page.send(type="transfer", call_id=offer["call_id"], to={"queue": "tier2"})
    ended = page.wait("call_ended", pump=ua.pump)
    assert ended["by"] == "transfer"
    page.wait("wrapup", pump=ua.pump)
    ua.wait(lambda: p2.incoming and p2.incoming[-1].state == "EARLY", timeout=25,
            what="agent2 (tier2) rings for the transferred caller")
    assert call.state == "CONFIRMED", "the caller stayed on the line"
    p1.shutdown()
    p2.shutdown()
    call.hangup()


def test_a_caller_typing_an_existing_ticket_number_is_tagged_with_it(ua, make_server, tmp_path):
    """Issue 5 with the real CRM: the IVR's ticket lookup finds the imported ticket, the call
    is queued for tier 2 tagged with it, at the priority its urgency earns."""
    s = crm_server(make_server, tmp_path, "sqlite")
    call = ua.caller(f"sip:{CALLER}@127.0.0.1").call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")            # English
    ua.pump(1.0)
    call.dtmf("4")            # existing ticket
    ua.pump(1.0)
    call.dtmf("482913")
    rows = s.wait_rows(f"SELECT payload FROM events WHERE call_id = '{call.cid}' AND kind = 'call.queued'",
                       1, timeout=15)
    q = json.loads(rows[0][0])
    assert (q["queue"], q["ticket"], q["priority"]) == ("tier2", "T-482913", 6), q
    assert q["skills"].get("tier2") == 1, q
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
