"""The configuration reloaded on SIGHUP while sessions run: identities,
targets and approvers changed in the file are in force at once.  A live
session whose access still holds carries on; one whose identity, key,
target or target permission was taken away is ended: every open channel
is told why (exit 77), what it waited for is cancelled, and the session
is recorded as ended by "access-revoked".  Approvers added can vote; an
identity's new owner can no longer approve its requests."""

import json
import os
import signal
import subprocess
import time

import helpers
from test_approvals import BOB, DAVE, held, pending, sha, vote

POLICY = {"default": "deny", "rules": [
    {"name": "basics", "match": {"commands": ["echo", "sleep", "true", "cat"]},
     "action": "allow"},
    {"name": "privilege", "match": {"commands": ["id"]}, "action": "approve",
     "approvers": "oncall", "timeout": 60}]}


def hup(b, expect="session"):
    off = b.log_size()
    os.kill(b.proc.pid, signal.SIGHUP)
    end = time.time() + 10
    while time.time() < end:
        if expect in b.log_text(off):
            return b.log_text(off)
        time.sleep(0.05)
    raise AssertionError(f"{expect!r} not in the log: {b.log_text(off)[-2000:]}")


def session_of(b, after, command):
    """The one session after id `after` that ran exactly this command."""
    for s in b.sessions():
        if s["id"] > after:
            d = b.show(s["id"])
            if any(e["kind"] == "policy" and e["detail"].get("command") == command
                   for e in d["log"]):
                return d
    raise AssertionError(f"no session ran {command!r}")


def wait_ended(b, sid, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        d = b.show(sid)
        if d.get("end_reason"):
            return d
        time.sleep(0.1)
    raise AssertionError(f"session {sid} did not end: {b.show(sid)}")


def test_reload_grants_and_revokes(world):
    w2 = world.target("web2")
    b = world.new_bastion("cfgreload", policy=POLICY,
                          targets=[world.target("web1"), w2])
    before = b.last_session_id()
    r = b.run("echo hi", key=world.outsider_key)
    assert r.returncode == 77 and b'may not use target "web1"' in r.stderr, r

    # three live sessions of agent-ci: on web1 (keeps its access), on web2
    # (loses it), and an idle one on web1 that has not run anything yet
    stays = b.popen("sleep 3; echo stays-done")
    goes = b.popen("sleep 30; echo never", login="web2")
    reader = b.popen("cat", stdin=subprocess.PIPE)
    reader.stdin.write(b"before\n")
    reader.stdin.flush()
    time.sleep(1)

    # web1 now also lets "others" in; web2 only "others"
    b.config["targets"][0]["allow"] = ["agents", "others"]
    b.config["targets"][1]["allow"] = ["others"]
    b.write_config()
    log = hup(b)
    assert "reloaded (targets);" in log and "2 sessions go on, 1 ended" in log, log
    assert 'access revoked: identity "agent-ci" may no longer use target "web2"' in log

    out, err = goes.communicate(timeout=15)
    assert goes.returncode == 77, (out, err)
    assert (b'bastion: access revoked: identity "agent-ci" may no longer use '
            b'target "web2"; the session ended') in err, err
    assert b"never" not in out
    out, err = stays.communicate(timeout=30)
    assert stays.returncode == 0 and out == b"stays-done\n", err
    out, err = reader.communicate(b"after\n", timeout=30)
    assert reader.returncode == 0 and out == b"before\nafter\n", err

    # granted at once: the outsider may use web1 now, agent-ci no longer web2
    r = b.run("echo outsider-in", key=world.outsider_key)
    assert r.returncode == 0 and r.stdout == b"outsider-in\n", r
    r = b.run("true", login="web2")
    assert r.returncode == 77 and b'may not use target "web2"' in r.stderr, r

    # recorded: the revoked session's end, its chain intact
    d = session_of(b, before, "sleep 30; echo never")
    d = wait_ended(b, d["id"])
    assert d["end_reason"] == "access-revoked", d
    assert 'may no longer use target "web2"' in d["end_detail"], d
    v = b.ctl("verify", d["id"])
    assert v.returncode == 0, v.stdout + v.stderr
    assert session_of(b, before, "sleep 3; echo stays-done")["end_reason"] == "closed"

    # a key taken from the identity ends the sessions it opened; a session
    # started with the key kept goes on
    world_key2 = b.dir / "agent2_ed25519"
    helpers.keygen(world_key2)
    b.config["identities"][0]["keys"].append(helpers.pubkey(world_key2))
    b.write_config()
    hup(b, "reloaded (identities)")
    old_key = b.popen("sleep 30", login="web1")
    new_key = b.popen("sleep 2; echo new-key-done", key=world_key2)
    time.sleep(1)
    b.config["identities"][0]["keys"] = [helpers.pubkey(world_key2)]
    b.write_config()
    log = hup(b)
    assert "1 session goes on, 1 ended" in log, log
    out, err = old_key.communicate(timeout=15)
    assert old_key.returncode == 77, (out, err)
    assert b'bastion: access revoked: key ssh-ed25519 SHA256:' in err, err
    assert b'was removed from identity "agent-ci"' in err, err
    out, err = new_key.communicate(timeout=30)
    assert new_key.returncode == 0 and out == b"new-key-done\n", err
    r = b.run("true")
    assert r.returncode != 0, r   # the old key no longer authenticates

    # a target removed: its sessions end; the others' go on
    b.config["identities"][0]["keys"].append(helpers.pubkey(world.agent_key))
    b.write_config()
    hup(b, "reloaded (identities)")
    on_web1 = b.popen("sleep 30")
    time.sleep(1)
    b.config["targets"] = b.config["targets"][1:]
    b.write_config()
    log = hup(b)
    out, err = on_web1.communicate(timeout=15)
    assert on_web1.returncode == 77, (out, err)
    assert b'access revoked: target "web1" was removed from the configuration' in err
    r = b.run("true")
    assert r.returncode == 68 and b'unknown target "web1"' in r.stderr, r
    assert b.run("echo ok", login="web2", key=world.outsider_key).returncode == 0


def test_reload_with_problems_changes_nothing(world):
    b = world.new_bastion("cfgbad", policy=POLICY)
    live = b.popen("sleep 3; echo live-done")
    time.sleep(0.5)
    good = json.loads(json.dumps(b.config))
    b.config["identities"] = []          # remove every identity...
    b.config["targets"][0]["port"] = 0   # ...in a file with a problem
    b.write_config()
    log = hup(b, "nothing changed")
    assert "targets[0]" in log and "port" in log, log
    out, err = live.communicate(timeout=30)
    assert live.returncode == 0 and out == b"live-done\n", err
    b.config = good
    b.write_config()
    b.assert_serving()


def test_reload_cancels_held_and_updates_approvers(world):
    """A held command of a revoked session is cancelled (recorded as
    decided by "configuration"); approvers added by a reload vote at
    once; the identity's new owner may not approve its requests."""
    b = world.new_bastion("cfgappr", policy=POLICY, approvers=[
        {"name": "carol", "groups": ["dba"], "token_sha256": sha("tok-carol")}])
    p, req = held(b, "id -u")
    v = vote(b, req["id"], "approve", BOB)
    assert v.returncode == 1 and b"unknown" in v.stderr.lower(), v

    # bob becomes an approver in oncall, and the owner of agent-ci
    b.config["approvers"].append({"name": "bob", "groups": ["oncall"],
                                  "token_sha256": sha(BOB)})
    b.config["approvers"].append({"name": "dave", "groups": ["oncall"],
                                  "token_sha256": sha(DAVE)})
    b.config["identities"][0]["owner"] = "bob"
    b.write_config()
    hup(b, "reloaded (identities, approvers)")
    v = vote(b, req["id"], "approve", BOB)
    assert v.returncode == 1 and b"self-approval" in v.stderr, v
    v = vote(b, req["id"], "approve", DAVE)
    assert v.returncode == 0, v
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == b"0\n", (out, err)
    assert b"approved by dave" in err, err

    # held, then the identity is removed: the request is cancelled and
    # the agent told why
    p, req = held(b, "id -g")
    b.config["identities"] = b.config["identities"][1:]
    b.write_config()
    hup(b)
    out, err = p.communicate(timeout=15)
    assert p.returncode == 77, (out, err)
    assert (f'bastion: access revoked: identity "agent-ci" was removed from '
            f'the configuration; request {req["id"]} was cancelled').encode() in err, err
    assert req["id"] not in [r["id"] for r in pending(b)]
    with b.db() as db:
        st, by, detail = db.execute(
            "SELECT status, decided_by, detail FROM approval_requests "
            "WHERE id = ?", (req["id"],)).fetchone()
    assert (st, by) == ("cancelled", "configuration"), (st, by, detail)
    assert "access revoked" in detail


def test_reload_rotates_slack_secrets(world):
    """Slack's bot token and signing secret rotated on SIGHUP: clicks
    signed with the old secret are refused, the new one's accepted, and
    the bastion calls Slack with the new token.  A changed listener
    address cannot be taken without a restart: then none of the channel
    keys changes, and the log says why."""
    from fakeslack import FakeSlack, block_actions, slack_click
    slack = FakeSlack(channel="C0APPROVE")
    try:
        hport = helpers.free_port()
        b = world.new_bastion(
            "cfgslack", policy=POLICY,
            approvers=[{"name": "bob", "groups": ["oncall"],
                        "token_sha256": sha(BOB), "slack_user": "U0BOB"}],
            http={"listen": f"127.0.0.1:{hport}",
                  "public_url": f"http://127.0.0.1:{hport}/"},
            slack={"api_url": slack.api_url, "bot_token": slack.token,
                   "signing_secret": "old-secret", "channel": slack.channel})

        def click(secret, rid, msg):
            return slack_click(hport, secret, block_actions(
                "U0BOB", "approve", rid, message_ts=msg["ts"]))

        p, req = held(b, "id -u")
        msg = slack.message_for(req["id"])

        # a new listener address: the channels keep everything they had
        b.config["http"]["listen"] = f"127.0.0.1:{helpers.free_port()}"
        b.config["slack"]["signing_secret"] = "new-secret"
        b.write_config()
        log = hup(b)
        assert ('"http" changed in' in log and '"slack" changed in' in log and
                "(the HTTP listener's address changed)" in log), log
        st, _ = click("new-secret", req["id"], msg)
        assert st == 401, st

        # the same address: the new token and secret are in force
        b.config["http"]["listen"] = f"127.0.0.1:{hport}"
        b.config["slack"]["bot_token"] = "xoxb-rotated"
        b.write_config()
        slack.token = "xoxb-rotated"
        log = hup(b, "reloaded (slack)")
        st, _ = click("old-secret", req["id"], msg)
        assert st == 401, st
        st, _ = click("new-secret", req["id"], msg)
        assert st == 200, st
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0 and out == b"0\n", (out, err)
        # the final chat.update went out with the rotated token
        u = slack.wait_update(msg, lambda body: "approved by bob" in json.dumps(body),
                              what="final update")
        assert u["body"]["ts"] == msg["ts"]
    finally:
        slack.stop()
