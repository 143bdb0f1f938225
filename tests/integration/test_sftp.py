"""File transfers: the real sftp and scp clients through the bastion to a
real sshd.  Each sftp request that opens, lists or changes something is
judged as the shell command that would do the same; refused ones get an
SFTP error from the bastion, and the session goes on."""

import os
import struct
import subprocess
import time

import pytest

import helpers
from helpers import EX_NOT_PERMITTED, sha256_file
from test_approvals import BOB, pending, sha, vote, wait_pending

POLICY = {
    "default": "approve",
    "redirect": "approve",
    "timeout": 60,
    "approvers": "oncall",
    "rules": [
        {"name": "read-only", "match": {"commands": ["ls", "cat", "echo", "true"]},
         "action": "allow"},
        {"name": "moves", "match": {"commands": ["mv", "ln", "chmod", "touch"]},
         "action": "allow"},
        {"name": "no-removal", "match": {"commands": ["rm", "rmdir"]}, "action": "deny"},
        {"name": "tmp", "match": {"writes": ["/tmp/**"]}, "action": "allow"},
    ],
}


@pytest.fixture(scope="module")
def fb(world):
    """A bastion with the policy above (shared by the module)."""
    approvers = [{"name": "bob", "groups": ["oncall"],
                  "token_sha256": sha(BOB)}]
    return world.new_bastion("files", approvers=approvers, policy=POLICY)


def describe(r):
    return f"rc={r.returncode} stdout={r.stdout[-800:]!r} stderr={r.stderr[-1500:]!r}"


def sftp_cmd(b, batch):
    w = b.world
    return ["sftp", "-F", str(w.ssh_config), "-P", str(b.port), "-i", str(w.agent_key),
            "-b", str(batch), "web1@127.0.0.1"]


def sftp(b, tmp_path, lines, timeout=60):
    batch = tmp_path / "batch"
    batch.write_text("".join(ln + "\n" for ln in lines))
    return subprocess.run(sftp_cmd(b, batch), capture_output=True, timeout=timeout)


def policy_events(b, sid):
    return [e["detail"] for e in b.show(sid)["log"] if e["kind"] == "policy"]


def verified(b, sid):
    v = b.ctl("verify", sid)
    assert v.returncode == 0 and b"OK" in v.stdout, describe(v)


def test_put_get_list(fb, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    dst = tmp_path / "uploaded"
    back = tmp_path / "back"
    before = fb.last_session_id()
    r = sftp(fb, tmp_path, [f"put {src} {dst}", f"get {dst} {back}", f"ls -l {tmp_path}"])
    assert r.returncode == 0, describe(r)
    assert sha256_file(dst) == sha256_file(src)
    assert sha256_file(back) == sha256_file(src)
    assert b"uploaded" in r.stdout
    assert b"bastion:" not in r.stderr, describe(r)
    s = fb.wait_session(before)
    pol = policy_events(fb, s["id"])
    kinds = [(p["kind"], p["command"], p["decision"]["action"]) for p in pol]
    assert ("subsystem", "sftp", "allow") in kinds, kinds
    assert ("sftp", f"cat > '{dst}'", "allow") in kinds, kinds
    assert ("sftp", f"cat '{dst}'", "allow") in kinds, kinds
    assert ("sftp", f"ls '{tmp_path}/'", "allow") in kinds, kinds
    # every byte both ways is on record: the upload is in the agent's input
    assert s["bytes_in"] > src.stat().st_size and s["bytes_out"] > src.stat().st_size, s
    verified(fb, s["id"])
    # the search finds sftp requests like commands
    found = fb.ctl_json("sessions", "--json", "--command", f"cat > '{dst}'")
    assert [x["id"] for x in found] == [s["id"]], found
    # replay leaves the binary protocol out, says so, and shows the
    # decisions on request; --channel gives the bytes (the download's too)
    rp = fb.ctl("replay", s["id"], "--no-wait", "--decisions")
    assert rp.returncode == 0 and rp.stdout == b"", rp
    assert b"channel 0 is an sftp session" in rp.stderr, rp.stderr
    assert f"cat > '{dst}'".encode() in rp.stderr, rp.stderr
    rp = fb.ctl("replay", s["id"], "--no-wait", "--channel", "0")
    assert src.read_bytes()[:100000] in rp.stdout
    # the files it moved, read back from the recording
    files = fb.ctl_json("files", s["id"], "--json")
    digest = sha256_file(src)
    assert [(f["direction"], f["path"], f["bytes"], f["sha256"]) for f in files
            if f["path"] == str(dst)] == [("upload", str(dst), src.stat().st_size, digest),
                                         ("download", str(dst), src.stat().st_size, digest)], files
    out_dir = tmp_path / "extracted"
    out_dir.mkdir()
    x = fb.ctl("files", s["id"], "--extract", out_dir)
    assert x.returncode == 0, describe(x)
    assert b"upload" in x.stdout and digest.encode() in x.stdout, x.stdout
    got = sorted(out_dir.iterdir())
    assert [p.name for p in got] == ["0-1-uploaded", "0-2-uploaded"], got
    assert all(sha256_file(p) == digest for p in got)
    x = fb.ctl("files", s["id"], "--extract", out_dir)   # never overwrites
    assert x.returncode == 1 and b"File exists" in x.stderr, describe(x)
    wt = fb.ctl("watch", s["id"], timeout=30)
    assert wt.returncode == 0 and wt.stdout == b"", wt
    assert b"[bastion] channel 0 runs sftp" in wt.stderr, wt.stderr
    assert f"cat '{dst}'".encode() in wt.stderr, wt.stderr


def test_scp_both_ways(fb, tmp_path, blob50):
    path, digest = blob50
    dst = tmp_path / "scp-up"
    w = fb.world
    base = ["scp", "-F", str(w.ssh_config), "-P", str(fb.port), "-i", str(w.agent_key)]
    before = fb.last_session_id()
    r = subprocess.run(base + [str(path), f"web1@127.0.0.1:{dst}"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, describe(r)
    assert sha256_file(dst) == digest
    # scp opens without truncating, then sets the size: that is the write
    # the open was judged as, not a separate "truncate" to approve
    assert b"bastion:" not in r.stderr, describe(r)
    # auditors can tell what was uploaded: 50 MB, the same SHA-256
    up = fb.ctl_json("files", fb.wait_session(before)["id"], "--json")
    assert [(f["direction"], f["bytes"], f["sha256"]) for f in up] == [
        ("upload", 50 * 1024 * 1024, digest)], up
    back = tmp_path / "scp-back"
    r = subprocess.run(base + [f"web1@127.0.0.1:{dst}", str(back)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, describe(r)
    assert sha256_file(back) == digest


def test_denied_remove_keeps_session(fb, tmp_path):
    victim = tmp_path / "keep-me"
    victim.write_text("precious")
    after = tmp_path / "after-refusal"
    src = tmp_path / "small"
    src.write_text("x" * 100)
    before = fb.last_session_id()
    # "-rm": sftp goes on after an error; the put after it must work
    r = sftp(fb, tmp_path, [f"-rm {victim}", f"put {src} {after}"])
    assert r.returncode == 0, describe(r)
    assert victim.read_text() == "precious"
    assert after.read_text() == "x" * 100
    assert b"bastion: denied by policy" in r.stderr and b"no-removal" in r.stderr, describe(r)
    assert b"Permission denied" in r.stderr, describe(r)
    s = fb.wait_session(before)
    pol = policy_events(fb, s["id"])
    rm = [p for p in pol if p["command"] == f"rm '{victim}'"]
    assert rm and rm[0]["decision"]["action"] == "deny", pol
    verified(fb, s["id"])
    # without "-", the batch stops at the refusal with a non-zero status
    r = sftp(fb, tmp_path, [f"rm {victim}", f"put {src} {tmp_path}/never"])
    assert r.returncode != 0, describe(r)
    assert victim.exists() and not (tmp_path / "never").exists()


def held_transfer(fb, tmp_path, line, want):
    """Starts `sftp -b` with LINE; returns (Popen, the pending request WANT)."""
    batch = tmp_path / "batch"
    batch.write_text(line + "\n")
    p = subprocess.Popen(sftp_cmd(fb, batch), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        return p, wait_pending(fb, want)
    except BaseException:
        p.kill()
        p.communicate()
        raise


def decide(fb, p, req, what, reason=None):
    """bob votes WHAT on REQ; returns the sftp client's (stdout, stderr)."""
    try:
        v = vote(fb, req["id"], what, BOB, reason)
        assert v.returncode == 0, describe(v)
        return p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_held_until_approved(fb, tmp_path):
    d = tmp_path / "made-after-approval"
    p, req = held_transfer(fb, tmp_path, f"mkdir {d}", f"mkdir -m 0777 '{d}'")
    time.sleep(0.3)
    assert p.poll() is None and not d.exists(), "nothing happens before approval"
    out, err = decide(fb, p, req, "approve")
    assert p.returncode == 0, (out, err)
    assert d.is_dir()
    # the agent was told why it waited, and which request to ask about
    assert f"bastion: held for approval: request {req['id']}".encode() in err, err


def test_denied_by_approver(fb, tmp_path):
    # a write outside /tmp is held ("redirect": "approve"); bob says no
    target = f"/var/tmp/bastion-sftp-denied-{os.getpid()}"
    src = tmp_path / "payload"
    src.write_text("nope")
    p, req = held_transfer(fb, tmp_path, f"put {src} {target}", f"cat > '{target}'")
    out, err = decide(fb, p, req, "deny", "not there")
    assert p.returncode != 0, (out, err)
    assert not os.path.exists(target)
    assert b"bastion: denied" in err and b"not there" in err, err


def test_agent_leaves_while_held(fb, tmp_path):
    # Killing sftp leaves its ssh child running with its input closed: the
    # held request is withdrawn then, not carried out after an approval
    # nobody waits for.
    d = tmp_path / "never-made"
    before = fb.last_session_id()
    p, req = held_transfer(fb, tmp_path, f"mkdir {d}", f"mkdir -m 0777 '{d}'")
    withdrawn_when_killed(fb, p, req, before)
    assert not d.exists()
    fb.assert_serving()


def withdrawn_when_killed(b, p, req, before):
    """Kills the client P whose request REQ is held: the request must be
    cancelled (a later approval says so) and the withdrawal recorded."""
    p.kill()
    p.communicate()

    def gone():
        return all(x["id"] != req["id"] for x in pending(b))
    helpers.wait_until(gone, 15, what="the held request cancelled")
    v = vote(b, req["id"], "approve", BOB)
    assert v.returncode == 1 and b"cancelled" in v.stderr, describe(v)
    s = b.wait_session(before)
    errs = [e["detail"]["message"] for e in b.show(s["id"])["log"] if e["kind"] == "error"]
    assert any("request was withdrawn" in m for m in errs), errs


def test_concurrent_transfers_on_one_connection(fb, tmp_path):
    # scp over a ControlMaster: two sftp channels at once on one
    # connection, each with its own handles and decisions
    cp = f"/tmp/bst-sftp-cm-{os.getpid()}"
    w = fb.world
    common = ["-F", str(w.ssh_config), "-i", str(w.agent_key),
              "-o", f"ControlPath={cp}", "-o", "ControlPersist=10"]
    before = fb.last_session_id()
    r = subprocess.run(["ssh"] + common + ["-p", str(fb.port), "-o", "ControlMaster=yes",
                        "-f", "-N", "web1@127.0.0.1"], capture_output=True, timeout=30)
    assert r.returncode == 0, describe(r)
    try:
        srcs = []
        for i in range(2):
            src = tmp_path / f"src{i}"
            src.write_bytes(os.urandom(8 * 1024 * 1024 + i))
            srcs.append(src)
        ps = [subprocess.Popen(["scp"] + common + ["-o", "ControlMaster=no", "-P", str(fb.port),
                                str(src), f"web1@127.0.0.1:{tmp_path}/dst{i}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for i, src in enumerate(srcs)]
        for p in ps:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        for i, src in enumerate(srcs):
            assert sha256_file(tmp_path / f"dst{i}") == sha256_file(src)
    finally:
        subprocess.run(["ssh"] + common + ["-p", str(fb.port), "-O", "exit", "web1@127.0.0.1"],
                       capture_output=True, timeout=10)
        if os.path.exists(cp):
            os.unlink(cp)
    s = fb.wait_session(before)
    d = fb.show(s["id"])
    assert [c["type"] for c in d["channels"]] == ["subsystem:sftp"] * 2, d["channels"]
    writes = sorted(p["detail"]["command"] for p in d["log"] if p["kind"] == "policy"
                    and p["detail"]["kind"] == "sftp" and p["detail"]["command"].startswith("cat >"))
    assert writes == [f"cat >> '{tmp_path}/dst0'", f"cat >> '{tmp_path}/dst1'"], writes
    verified(fb, s["id"])


# -- the protocol by hand: what the clients never send ----------------------

def pkt(t, body):
    return struct.pack(">IB", len(body) + 1, t) + body


def sstr(b):
    return struct.pack(">I", len(b)) + b


def read_packet(f):
    head = f.read(4)
    assert len(head) == 4, f"no reply (got {head!r})"
    n = struct.unpack(">I", head)[0]
    body = f.read(n)
    assert len(body) == n
    return body[0], body[1:]


class RawSftp:
    def __init__(self, b):
        self.p = subprocess.Popen(b.ssh_base() + ["-s", "web1@127.0.0.1", "sftp"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.send(pkt(1, struct.pack(">I", 3)))          # INIT, version 3
        t, body = read_packet(self.p.stdout)
        assert t == 2, (t, body)                         # VERSION

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def request(self, t, rid, body):
        self.send(pkt(t, struct.pack(">I", rid) + body))
        return read_packet(self.p.stdout)

    def close(self):
        self.p.stdin.close()
        out = self.p.stdout.read()
        err = self.p.stderr.read()
        self.p.wait(timeout=30)
        return out, err


def status(body):
    rid, code, mlen = struct.unpack(">III", body[:12])
    return rid, code, body[12:12 + mlen].decode()


def test_handles_are_checked(fb, tmp_path):
    f = tmp_path / "readable"
    f.write_text("content")
    s = RawSftp(fb)
    try:
        # a handle the target never gave: refused by the bastion
        t, body = s.request(5, 7, sstr(b"forged") + struct.pack(">QI", 0, 100))
        assert t == 101 and status(body)[:2] == (7, 4), (t, body)
        assert "handle" in status(body)[2]
        # open for reading (judged: cat), then a write to it is refused
        t, body = s.request(3, 8, sstr(str(f).encode()) + struct.pack(">II", 1, 0))
        assert t == 102, (t, body)
        handle = body[8:8 + struct.unpack(">I", body[4:8])[0]]
        t, body = s.request(6, 9, sstr(handle) + struct.pack(">Q", 0) + sstr(b"evil"))
        assert t == 101 and status(body)[:2] == (9, 3), (t, body)
        t, body = s.request(5, 10, sstr(handle) + struct.pack(">QI", 0, 100))
        assert t == 103 and body[8:] == b"content", (t, body)
        # an extension the bastion does not know
        t, body = s.request(200, 11, sstr(b"evil@example.com"))
        assert t == 101 and status(body)[:2] == (11, 8), (t, body)
        t, body = s.request(4, 12, sstr(handle))
        assert t == 101 and status(body)[:2] == (12, 0), (t, body)
    finally:
        out, err = s.close()
    assert f.read_text() == "content"
    assert b"bastion: sftp write refused" in err, err
    fb.assert_serving()


def test_malformed_packet(fb):
    before = fb.last_session_id()
    r = fb.ssh(["-s", "web1@127.0.0.1", "sftp"], input=b"\xff\xff\xff\xffjunk")
    assert r.returncode == EX_NOT_PERMITTED, describe(r)
    assert b"bastion: not permitted: the agent sent a malformed sftp packet" in r.stderr
    fb.wait_session(before)
    fb.assert_serving()


def test_truncated_packet_at_eof(fb):
    # a request cut short by the end of input: dropped, said, the channel ends
    before = fb.last_session_id()
    init = struct.pack(">IBI", 5, 1, 3)
    r = fb.ssh(["-s", "web1@127.0.0.1", "sftp"], input=init + b"\x00\x00\x01\x00\x03",
               timeout=30)
    # the EOF went on: sftp-server ended (it may quit before answering INIT)
    assert r.returncode == 0, describe(r)
    assert b"bastion: sftp packet refused: the agent's input ended inside" in r.stderr, describe(r)
    s = fb.wait_session(before)
    errs = [e["detail"] for e in fb.show(s["id"])["log"] if e["kind"] == "error"]
    assert any(e.get("sftp") == "packet" for e in errs), errs
    verified(fb, s["id"])


def test_refused_subsystem_request_hides_nothing(fb, tmp_path):
    # replay and watch leave out the bytes of channels that run sftp; a
    # *refused* sftp request on a channel that runs a command (the
    # bastion records it with "accepted": false) must not make them hide
    # that command's output.  OpenSSH cannot send one, so it is added to
    # a copy of the database.
    import shutil
    import sqlite3
    before = fb.last_session_id()
    r = fb.run("echo visible-output")
    assert r.returncode == 0
    sid = fb.wait_session(before)["id"]
    copy = tmp_path / "copy.db"
    with fb.db() as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with sqlite3.connect(copy) as c:
        last = c.execute("SELECT max(seq) FROM events WHERE session_id=?", (sid,)).fetchone()[0]
        for seq, accepted in ((last + 1, "false"), (last + 2, "true")):
            c.execute("INSERT INTO events (session_id, seq, t_us, channel, kind, data, hash) "
                      "VALUES (?, ?, 0, ?, 'request', ?, zeroblob(32))",
                      (sid, seq, 99 if accepted == "true" else 0,
                       f'{{"type":"subsystem","accepted":{accepted},"name":"sftp"}}'))

    def ctl(*args):
        return subprocess.run([str(helpers.CTL_BIN), "--database", str(copy)] + list(args),
                              capture_output=True, timeout=30)
    rp = ctl("replay", str(sid), "--no-wait")
    assert rp.returncode == 0 and rp.stdout == b"visible-output\n", describe(rp)
    assert b"channel 0 is an sftp" not in rp.stderr
    assert b"channel 99 is an sftp" in rp.stderr      # an accepted one counts
    wt = ctl("watch", str(sid))
    assert wt.returncode == 0 and wt.stdout == b"visible-output\n", describe(wt)


def test_other_subsystems_refused(fb):
    before = fb.last_session_id()
    r = fb.ssh(["-s", "web1@127.0.0.1", "netconf"], input=b"")
    assert r.returncode == EX_NOT_PERMITTED, describe(r)
    assert b'bastion: not permitted: subsystem "netconf" is not supported' in r.stderr
    s = fb.wait_session(before)
    verified(fb, s["id"])


def test_sftp_can_be_denied_whole(world, tmp_path):
    b = world.new_bastion("nosftp", policy=dict(helpers.ALLOW_ALL, sftp="deny"))
    try:
        r = sftp(b, tmp_path, ["pwd"])
        assert r.returncode != 0, describe(r)
        assert b"bastion: denied by policy" in r.stderr, describe(r)
        assert b.run("echo exec-still-fine").stdout == b"exec-still-fine\n"
    finally:
        b.stop()
