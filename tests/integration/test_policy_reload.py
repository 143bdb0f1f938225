"""The policy reloaded on SIGHUP without ending sessions: a new policy
decides every request from then on, a session already running carries on,
every recorded decision names the policy version that made it (the
`policies` table holds each version's text), and a config or policy with
problems leaves the running policy in force with the problems logged."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time

import helpers

POLICY = {"default": "deny", "rules": [
    {"name": "basics", "match": {"commands": ["echo", "sleep", "true"]},
     "action": "allow"}]}


def wait_log(b, off, text, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if text in b.log_text(off):
            return b.log_text(off)
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log: {b.log_text(off)[-2000:]}")


def hup(b, expect):
    off = b.log_size()
    os.kill(b.proc.pid, signal.SIGHUP)
    return wait_log(b, off, expect)


def decisions(b):
    """(command, policy_sha256, action) of every recorded policy decision."""
    with b.db() as db:
        rows = db.execute("SELECT data FROM events WHERE kind = 'policy' "
                          "ORDER BY session_id, seq").fetchall()
    out = []
    for (data,) in rows:
        ev = json.loads(data)
        out.append((ev["command"], ev.get("policy_sha256"),
                    ev["decision"]["action"]))
    return out


def test_sighup_reloads_policy(world):
    b = world.new_bastion("reload", policy="policy.json", start=False)
    pfile = b.dir / "policy.json"
    pfile.write_text(json.dumps(POLICY))
    r = subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"from {pfile}, 1 rule)" in r.stdout.decode(), r.stdout
    b.start()

    r = b.run("date")
    assert r.returncode == 77 and b"denied by policy" in r.stderr, r
    # a session that is running when the policy changes carries on
    long = b.popen("sleep 2; echo still-here")
    time.sleep(0.5)

    v2 = {"default": "deny", "rules": POLICY["rules"] + [
        {"name": "clock", "match": {"commands": ["date"]}, "action": "allow"}]}
    pfile.write_text(json.dumps(v2))
    log = hup(b, "for every decision from now on")
    assert f"({pfile}, 2 rules) replaces" in log, log
    r = b.run("date +%Y")
    assert r.returncode == 0 and r.stdout.strip().isdigit(), r
    # bastionctl status names the policy in force
    st = b.ctl_json("status", "--json")["policy"]
    assert st["rules"] == 2 and st["source"] == str(pfile), st
    r = b.ctl("status")
    assert f"policy {st['sha256'][:12]} ({pfile}, 2 rules), in force since ".encode() in r.stdout, r
    out, err = long.communicate(timeout=30)
    assert long.returncode == 0 and out == b"still-here\n", err

    # every decision names its policy; the table holds both versions,
    # each row's sha256 the SHA-256 of its text
    with b.db() as db:
        pol = dict(db.execute("SELECT sha256, text FROM policies").fetchall())
    assert len(pol) == 2
    for sha, text in pol.items():
        assert hashlib.sha256(text.encode()).hexdigest() == sha
    by_text = {json.dumps(json.loads(t), sort_keys=True): s for s, t in pol.items()}
    old = by_text[json.dumps(POLICY, sort_keys=True)]
    new = by_text[json.dumps(v2, sort_keys=True)]
    d = decisions(b)
    assert ("date", old, "deny") in d, d
    assert ("date +%Y", new, "allow") in d, d
    assert st["sha256"] == new
    assert ("sleep 2; echo still-here", old, "allow") in d, d
    # the same file again: nothing changes
    log = hup(b, "unchanged")
    assert new[:12] in log

    # a policy with a problem: the problem is logged with file and key,
    # and the running policy stays
    pfile.write_text(json.dumps({"default": "maybe", "rules": []}))
    log = hup(b, "stays in force")
    assert f"{pfile}: default:" in log, log
    assert f"policy {new[:12]} stays in force" in log, log
    assert b.run("date").returncode == 0

    # a config that does not parse: the same
    good = b.config_path.read_text()
    b.config_path.write_text(good[:-5])
    log = hup(b, "stays in force")
    assert str(b.config_path) in log, log
    assert b.run("date").returncode == 0

    # keys that need a restart are named and not applied; keys a reload
    # puts in force are listed; the policy (restored) is loaded
    b.config["env_allow"] = ["OTHER_VAR"]
    b.config["keepalive_interval"] = 7
    b.config["listen"] = f"127.0.0.1:{helpers.free_port()}"
    b.write_config()
    pfile.write_text(json.dumps(POLICY))
    log = hup(b, "session")
    assert "for every decision from now on" in log, log
    assert '"listen" changed' in log and "takes effect at the next restart" in log, log
    assert '"env_allow" changed' not in log and '"targets" changed' not in log, log
    assert ("reloaded (keepalive_interval, env_allow);" in log or
            "reloaded (env_allow, keepalive_interval);" in log), log
    r = b.run("date")
    assert r.returncode == 77, r
    b.assert_serving()
    with b.db() as db:
        assert db.execute("SELECT count(*) FROM policies").fetchone()[0] == 2
        assert db.execute("SELECT last_loaded_us > first_loaded_us FROM policies "
                          "WHERE sha256 = ?", (old,)).fetchone()[0] == 1
    # replay --decisions names the rule and the policy version
    with b.db() as db:
        sid = db.execute("SELECT session_id FROM events WHERE kind = 'policy' "
                         "AND json_extract(data, '$.command') = 'date +%Y'"
                         ).fetchone()[0]
    rd = b.ctl("replay", sid, "--no-wait", "--decisions")
    assert f"exec: date +%Y: allow (rule clock, policy {new[:12]})".encode() in rd.stderr, rd
    # bastionctl policies: the versions, each checked against its text
    r = b.ctl("policies")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].split()[0] == "VERSION" and len(lines) == 3, lines
    assert lines[1].startswith(old[:12]) and lines[2].startswith(new[:12])
    assert lines[1].split()[-1] == "ok" and str(pfile) in lines[1]
    assert b.ctl_json("policies", new[:8], "--json")["policy"] == v2
    r = b.ctl("policies", new[:8])
    assert r.returncode == 0 and json.loads(r.stdout) == v2, r
    vs = b.ctl_json("policies", "--json")
    assert [v["sha256"] for v in vs] == [old, new]
    assert all(v["text_matches_sha256"] for v in vs)
    r = b.ctl("policies", "xyz")
    assert r.returncode == 2 and b"not a policy version" in r.stderr, r
    r = b.ctl("policies", "0" * 12)
    assert r.returncode == 1 and b"no policy version" in r.stderr, r
    # the chains still verify with the new field in their events
    for s in b.sessions():
        v = b.ctl("verify", s["id"])
        assert v.returncode == 0, v.stdout + v.stderr

    # a stored policy edited afterwards no longer matches its version
    with sqlite3.connect(str(b.db_path)) as db:
        db.execute("UPDATE policies SET text = replace(text, 'date', 'rm') "
                   "WHERE sha256 = ?", (new,))
    r = b.ctl("policies")
    assert r.returncode == 1 and b"EDITED" in r.stdout, r
    r = b.ctl("policies", new[:12])
    assert r.returncode == 1 and b"does not hash to its version" in r.stderr, r


def test_held_requests_judged_again(world):
    """A reload judges every held request again: what the new policy
    denies is denied at once (the agent told, exit 77, the request
    recorded as denied by "policy"); what it would still hold stays
    pending for the approvers."""
    from test_approvals import held, pending
    v1 = {"default": "deny", "rules": [
        {"name": "basics", "match": {"commands": ["echo", "true"]}, "action": "allow"},
        {"name": "privilege", "match": {"commands": ["sudo"]}, "action": "approve",
         "timeout": 60},
        {"name": "ops", "match": {"commands": ["uptime"]}, "action": "approve",
         "timeout": 60}]}
    b = world.new_bastion("recheck", policy="policy.json", start=False)
    pfile = b.dir / "policy.json"
    pfile.write_text(json.dumps(v1))
    b.start()
    p_sudo, r_sudo = held(b, "sudo -n true")
    p_up, r_up = held(b, "uptime")

    v2 = {"default": "deny", "rules": [
        {"name": "no-sudo", "match": {"commands": ["sudo"]}, "action": "deny"}]
        + v1["rules"][:1] + v1["rules"][2:]}
    pfile.write_text(json.dumps(v2))
    hup(b, "for every decision from now on")
    out, err = p_sudo.communicate(timeout=30)
    assert p_sudo.returncode == 77, (out, err)
    assert (f"bastion: denied by policy (changed while request {r_sudo['id']} "
            "was held): rule \"no-sudo\"").encode() in err, err
    ids = [r["id"] for r in pending(b)]
    assert r_up["id"] in ids and r_sudo["id"] not in ids, ids
    assert p_up.poll() is None
    req = b.ctl_json("show", r_sudo["session_id"], "--json")["requests"][0]
    assert req["status"] == "denied" and req["decided_by"] == "policy", req
    assert "put in force while the request was held" in req["detail"], req
    p_up.kill()
    p_up.communicate(timeout=30)
    b.assert_serving()
