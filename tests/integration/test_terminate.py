"""`bastionctl terminate ID`: an approver ends a live session now.  The
agent is told on every open channel (exit 77), a command it waits to have
approved is cancelled, the session is recorded as ended by "terminated"
with who and why, and refusals (no token, an unknown token, a reason that
is not one printable line, a session that is not live) change nothing."""

import os
import subprocess
import time

import helpers
from test_approvals import BOB, held, pending, sha

POLICY = {"default": "deny", "rules": [
    {"name": "basics", "match": {"commands": ["echo", "sleep", "cat"]},
     "action": "allow"},
    {"name": "ops", "match": {"commands": ["id"]}, "action": "approve",
     "timeout": 60}]}


def terminate(b, sid, token=BOB, *extra):
    env = dict(os.environ)
    env.pop("BASTION_TOKEN", None)
    if token is not None:
        env["BASTION_TOKEN"] = token
    cmd = [str(helpers.CTL_BIN), "-c", str(b.config_path), "terminate",
           str(sid)] + list(extra)
    return subprocess.run(cmd, capture_output=True, timeout=30, env=env)


def live_sid(b, before, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        ids = [s["id"] for s in b.ctl_json("sessions", "--live", "--json")
               if s["id"] > before]
        if ids:
            return max(ids)
        time.sleep(0.1)
    raise AssertionError("no live session")


def test_terminate(world):
    b = world.new_bastion("term", policy=POLICY, approvers=[
        {"name": "bob", "groups": ["oncall"], "token_sha256": sha(BOB)}])
    before = b.last_session_id()
    p = b.popen("cat", stdin=subprocess.PIPE)
    p.stdin.write(b"one\n")
    p.stdin.flush()
    assert p.stdout.readline() == b"one\n"   # the channel is up and relaying
    sid = live_sid(b, before)

    r = terminate(b, sid, None)
    assert r.returncode == 1 and b"set BASTION_TOKEN" in r.stderr, r
    r = terminate(b, sid, "not-a-token")
    assert r.returncode == 1 and b"unknown approver token" in r.stderr, r
    r = terminate(b, sid, BOB, "--reason", "two\nlines")
    assert r.returncode == 2 and b"one line of printable text" in r.stderr, r
    r = terminate(b, sid, BOB, "--reason", "x" * 1001)
    assert r.returncode == 2 and b"too long" in r.stderr, r
    r = terminate(b, sid + 100)
    assert r.returncode == 1 and f"no live session {sid + 100}".encode() in r.stderr, r
    assert p.poll() is None          # still running after every refusal

    r = terminate(b, sid, BOB, "--reason", "runaway loop")
    assert r.returncode == 0, r
    assert r.stdout == f"session {sid} is ending: terminated by bob: runaway loop\n".encode(), r
    out, err = p.communicate(timeout=15)
    assert p.returncode == 77, (out, err)
    assert out == b"", out
    assert b"bastion: terminated by bob: runaway loop; the session ended" in err, err

    s = b.wait_session(sid - 1)
    assert s["id"] == sid and s["end_reason"] == "terminated", s
    d = b.show(sid)
    assert d["end_detail"] == "terminated by bob: runaway loop", d
    v = b.ctl("verify", sid)
    assert v.returncode == 0, v.stdout + v.stderr
    assert b"terminated by bob: runaway loop" in b.event_bytes(sid, "err")
    r = terminate(b, sid)
    assert r.returncode == 1 and b"no live session" in r.stderr, r
    b.assert_serving()


def test_terminate_cancels_held(world):
    b = world.new_bastion("termheld", policy=POLICY, approvers=[
        {"name": "bob", "groups": ["oncall"], "token_sha256": sha(BOB)}])
    before = b.last_session_id()
    p, req = held(b, "id -u")
    sid = live_sid(b, before)
    r = terminate(b, sid, BOB, "--json")
    assert r.returncode == 0, r
    assert b'"ok":true' in r.stdout.replace(b" ", b""), r.stdout
    out, err = p.communicate(timeout=15)
    assert p.returncode == 77, (out, err)
    assert (f"bastion: terminated by bob; request {req['id']} was cancelled "
            "and the session ended").encode() in err, err
    assert req["id"] not in [x["id"] for x in pending(b)]
    with b.db() as db:
        st, by = db.execute("SELECT status, decided_by FROM approval_requests "
                            "WHERE id = ?", (req["id"],)).fetchone()
    assert (st, by) == ("cancelled", "bob"), (st, by)
    assert b.wait_session(before)["end_reason"] == "terminated"


def test_terminate_over_http_api(world):
    """POST /api/sessions/ID/terminate with an approver's Bearer token:
    the same outcome; refusals map to 401, 400 and 404."""
    from test_slack import api
    hport = helpers.free_port()
    b = world.new_bastion("termapi", policy=POLICY, approvers=[
        {"name": "bob", "groups": ["oncall"], "token_sha256": sha(BOB)}],
        http={"listen": f"127.0.0.1:{hport}",
              "public_url": f"http://127.0.0.1:{hport}/"})
    b.http_port = hport
    before = b.last_session_id()
    p = b.popen("echo up; sleep 30")
    assert p.stdout.readline() == b"up\n"
    sid = live_sid(b, before)
    path = f"/api/sessions/{sid}/terminate"

    st, body = api(b, "POST", path)
    assert st == 401 and "Bearer" in body["error"], (st, body)
    st, body = api(b, "POST", path, "tok-nobody")
    assert st == 401, (st, body)
    st, body = api(b, "POST", path, BOB, {"reason": "a\rb"})
    assert st == 400 and "one line" in body["error"], (st, body)
    st, body = api(b, "POST", path, BOB, {"reason": "x" * 1001})
    assert st == 400 and "at most 1000" in body["error"], (st, body)
    st, body = api(b, "POST", path, BOB, b"[1]")
    assert st == 400, (st, body)
    st, body = api(b, "POST", f"/api/sessions/{sid + 50}/terminate", BOB)
    assert st == 404 and body["code"] == "not-found", (st, body)
    assert p.poll() is None

    st, body = api(b, "POST", path, BOB, {"reason": "by API"})
    assert st == 200 and body["ok"] and body["session"] == sid, (st, body)
    assert body["message"] == f"session {sid} is ending: terminated by bob: by API"
    out, err = p.communicate(timeout=15)
    assert p.returncode == 77, (out, err)
    assert b"bastion: terminated by bob: by API; the session ended" in err, err
    s = b.wait_session(before)
    assert (s["end_reason"], b.show(sid)["end_detail"]) == (
        "terminated", "terminated by bob: by API"), s
    st, body = api(b, "POST", path, BOB)
    assert st == 404, (st, body)


def locked_agent(world, b, tmp_path):
    """An agent stuck at its passphrase prompt after the bastion accepted
    its public key: logging in, with no channel yet."""
    import shutil
    from helpers import PtyRun
    key = tmp_path / "locked_key"
    shutil.copy(world.agent_key, key)
    shutil.copy(str(world.agent_key) + ".pub", str(key) + ".pub")
    os.chmod(key, 0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "secret", "-f",
                    str(key)], check=True, capture_output=True)
    p = PtyRun(b.ssh_base(key) + ["-o", "BatchMode=no", "web1@127.0.0.1",
                                  "echo logged-in"])
    p.expect(b"passphrase", timeout=20)
    return p


def test_terminate_before_login(world, tmp_path):
    """A session ended while its agent is still authenticating has no
    channel to carry the message: the agent gets it as the disconnect
    reason, which OpenSSH prints, and cannot log in afterwards."""
    b = world.new_bastion("termpre", policy=POLICY, approvers=[
        {"name": "bob", "groups": ["oncall"], "token_sha256": sha(BOB)}])
    before = b.last_session_id()
    p = locked_agent(world, b, tmp_path)
    try:
        sid = live_sid(b, before)
        r = terminate(b, sid, BOB, "--reason", "not now")
        assert r.returncode == 0, r
        s = b.wait_session(before, timeout=15)
        p.send(b"secret\n")
        p.expect(b"bastion: terminated by bob: not now; the session ended",
                 timeout=20)
        assert p.wait() == 255
    finally:
        p.kill()
    assert b"logged-in" not in p.out
    assert (s["end_reason"], b.show(sid)["end_detail"]) == (
        "terminated", "terminated by bob: not now"), s
    assert b.show(sid).get("identity") is None, b.show(sid)
    b.assert_serving()


def test_shutdown_before_login(world, tmp_path):
    """The bastion stopping while an agent logs in: the agent is told so
    at once (not cut off after the grace period), and the session is
    recorded as monitor-shutdown."""
    b = world.new_bastion("stoppre", policy=POLICY)
    before = b.last_session_id()
    p = locked_agent(world, b, tmp_path)
    try:
        live_sid(b, before)
        t0 = time.monotonic()
        assert b.stop() == 0
        assert time.monotonic() - t0 < 4, "the monitor waited for the worker"
        p.send(b"secret\n")
        p.expect(b"bastion: unavailable: the bastion is shutting down",
                 timeout=20)
        assert p.wait() == 255
    finally:
        p.kill()
    assert b"logged-in" not in p.out
    assert b.wait_session(before)["end_reason"] == "monitor-shutdown"
