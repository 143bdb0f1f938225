"""Legacy scp uploads (`scp -O`, paramiko's scp): the real scp client
through the bastion to a real sshd.  The exec of `scp -t PATH` is judged
as a command; then each file and folder it would create is judged as the
shell command that does the same, before the target sees its record.
Refused ones are answered by the bastion with scp's warning line: the
client skips them and goes on."""

import os
import shutil
import subprocess

import pytest

from helpers import EX_NOT_PERMITTED, sha256_file
from test_approvals import BOB, sha, vote, wait_pending
from test_sftp import withdrawn_when_killed

ROOT = f"/tmp/bst-scp-legacy-{os.getpid()}"
HELD = f"/var/tmp/bst-scp-held-{os.getpid()}"

POLICY = {
    "default": "approve",
    "redirect": "approve",
    "shell": "allow",
    "timeout": 60,
    "approvers": "oncall",
    "rules": [
        {"name": "scp", "match": {"commands": ["scp"]}, "action": "allow"},
        {"name": "read-only", "match": {"commands": ["ls", "cat", "echo", "true"]},
         "action": "allow"},
        {"name": "folders", "match": {"commands": ["mkdir"]}, "action": "allow"},
        {"name": "no-secret", "match": {"writes": [f"{ROOT}/up/tree/secret.key"]},
         "action": "deny"},
        {"name": "tmp", "match": {"writes": ["/tmp/**"]}, "action": "allow"},
    ],
}


@pytest.fixture(scope="module")
def lb(world):
    """A bastion with the policy above, and ROOT and HELD made and removed."""
    for d in (ROOT, HELD):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    approvers = [{"name": "bob", "groups": ["oncall"], "token_sha256": sha(BOB)}]
    yield world.new_bastion("scp-legacy", approvers=approvers, policy=POLICY)
    for d in (ROOT, HELD):
        shutil.rmtree(d, ignore_errors=True)


def describe(r):
    return f"rc={r.returncode} stdout={r.stdout[-800:]!r} stderr={r.stderr[-1500:]!r}"


def scp_cmd(b, *args):
    w = b.world
    return ["scp", "-O", "-F", str(w.ssh_config), "-P", str(b.port), "-i",
            str(w.agent_key)] + [str(a) for a in args]


def scp(b, *args, timeout=120):
    return subprocess.run(scp_cmd(b, *args), capture_output=True, timeout=timeout)


def decisions(b, sid):
    return [(e["detail"]["kind"], e["detail"]["command"], e["detail"]["decision"]["action"])
            for e in b.show(sid)["log"] if e["kind"] == "policy"]


def verified(b, sid):
    v = b.ctl("verify", sid)
    assert v.returncode == 0 and b"OK" in v.stdout, describe(v)


def tree(base):
    (base / "tree" / "sub").mkdir(parents=True)
    (base / "tree" / "ok.txt").write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    (base / "tree" / "secret.key").write_text("do not copy")
    (base / "tree" / "sub" / "inner").write_text("inner\n")
    (base / "tree" / "empty").write_bytes(b"")
    return base / "tree"


def test_upload_judged_file_by_file(lb, tmp_path):
    src = tree(tmp_path)
    dst = f"{ROOT}/up"
    os.makedirs(dst)
    before = lb.last_session_id()
    r = scp(lb, "-r", "-p", src, f"web1@127.0.0.1:{dst}/")
    # the refused file is skipped, said, and the rest arrives
    assert r.returncode == 1, describe(r)
    assert b"bastion: denied by policy" in r.stderr and b"no-secret" in r.stderr, describe(r)
    assert not os.path.exists(f"{dst}/tree/secret.key")
    for rel in ("ok.txt", "sub/inner", "empty"):
        assert sha256_file(f"{dst}/tree/{rel}") == sha256_file(src / rel), rel
    s = lb.wait_session(before)
    got = decisions(lb, s["id"])
    assert got[0] == ("exec", f"scp -r -p -t {dst}/", "allow"), got
    assert ("scp", f"mkdir -m 0755 '{dst}/tree'", "allow") in got, got
    assert ("scp", f"mkdir -m 0755 '{dst}/tree/sub'", "allow") in got, got
    assert ("scp", f"cat > '{dst}/tree/sub/inner'", "allow") in got, got
    assert ("scp", f"cat > '{dst}/tree/ok.txt'", "allow") in got, got
    assert ("scp", f"cat > '{dst}/tree/secret.key'", "deny") in got, got
    errs = [e["detail"] for e in lb.show(s["id"])["log"] if e["kind"] == "error"]
    assert any(e.get("scp") == "file" and e.get("name") == "secret.key" for e in errs), errs
    # every byte is on record, the chain holds, and the search finds files
    assert s["bytes_in"] > 2 * 1024 * 1024, s
    verified(lb, s["id"])
    found = lb.ctl_json("sessions", "--json", "--command", f"cat > '{dst}/tree/ok.txt'")
    assert [x["id"] for x in found] == [s["id"]], found
    # auditors see what arrived, read back from the recording: the denied
    # file is not among them, the others with their SHA-256
    files = lb.ctl_json("files", s["id"], "--json")
    want = sorted((f"{dst}/tree/{rel}", (src / rel).stat().st_size, sha256_file(src / rel))
                  for rel in ("ok.txt", "sub/inner", "empty"))
    assert sorted((f["path"], f["bytes"], f["sha256"]) for f in files) == want, files
    assert all(f["direction"] == "upload" for f in files), files
    out_dir = tmp_path / "extracted"
    out_dir.mkdir()
    x = lb.ctl("files", s["id"], "--extract", out_dir)
    assert x.returncode == 0, describe(x)
    got = {p.name.split("-", 2)[2]: sha256_file(p) for p in out_dir.iterdir()}
    assert got == {"ok.txt": sha256_file(src / "ok.txt"), "inner": sha256_file(src / "sub/inner"),
                   "empty": sha256_file(src / "empty")}, got
    # replay and watch leave the protocol's bytes out and say so
    rp = lb.ctl("replay", s["id"], "--no-wait", "--decisions")
    assert rp.returncode == 0 and rp.stdout == b"", rp
    assert b"channel 0 is a legacy scp upload" in rp.stderr, rp.stderr
    assert f"cat > '{dst}/tree/secret.key'".encode() in rp.stderr, rp.stderr
    rp = lb.ctl("replay", s["id"], "--no-wait", "--channel", "0")
    assert rp.stdout.count(b"\0") >= 8 and b"\1bastion: denied by policy" in rp.stdout, rp
    wt = lb.ctl("watch", s["id"], timeout=30)
    assert wt.returncode == 0 and wt.stdout == b"", wt
    assert b"[bastion] channel 0 runs a legacy scp upload" in wt.stderr, wt.stderr


def test_path_that_may_be_a_folder(lb, tmp_path):
    # "scp -t PATH" writes PATH itself, or PATH/NAME if PATH is a folder:
    # both are judged, and here PATH is not a folder
    src = tmp_path / "one"
    src.write_text("one file")
    dst = f"{ROOT}/renamed"
    before = lb.last_session_id()
    r = scp(lb, src, f"web1@127.0.0.1:{dst}")
    assert r.returncode == 0, describe(r)
    assert open(dst).read() == "one file"
    s = lb.wait_session(before)
    got = decisions(lb, s["id"])
    assert ("scp", f"cat > '{dst}/one'; cat > '{dst}'", "allow") in got, got
    files = lb.ctl_json("files", s["id"], "--json")
    assert [(f["path"], f["bytes"]) for f in files] == [(f"{dst}/one (or {dst})", 8)], files


def held(lb, *args, want):
    p = subprocess.Popen(scp_cmd(lb, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        return p, wait_pending(lb, want)
    except BaseException:
        p.kill()
        p.communicate()
        raise


def test_held_until_approved(lb, tmp_path):
    src = tmp_path / "payload"
    src.write_bytes(os.urandom(100000))
    p, req = held(lb, src, f"web1@127.0.0.1:{HELD}/", want=f"cat > '{HELD}/payload'")
    try:
        assert req["analysis"]["kind"] == "scp", req
        assert p.poll() is None and not os.path.exists(f"{HELD}/payload")
        v = vote(lb, req["id"], "approve", BOB)
        assert v.returncode == 0, describe(v)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, (out, err)
    assert sha256_file(f"{HELD}/payload") == sha256_file(src)
    assert f"bastion: held for approval: request {req['id']}".encode() in err, err


def test_agent_leaves_while_held(lb, tmp_path):
    src = tmp_path / "never"
    src.write_text("never")
    before = lb.last_session_id()
    p, req = held(lb, src, f"web1@127.0.0.1:{HELD}/", want=f"cat > '{HELD}/never'")
    withdrawn_when_killed(lb, p, req, before)
    assert not os.path.exists(f"{HELD}/never")


def test_forms_that_cannot_be_followed(lb):
    # an scp sink the bastion cannot follow file by file is refused whole
    for cmd in (f"cd {ROOT} && scp -t x", f"scp -t $HOME/x", f"sudo scp -t {ROOT}/x"):
        r = lb.run(cmd, input=b"C0644 1 x\nz\0")
        assert r.returncode == EX_NOT_PERMITTED, (cmd, describe(r))
        assert b"bastion: denied: the bastion follows a legacy scp upload" in r.stderr, describe(r)
    assert not os.path.exists(f"{ROOT}/x")
    # nor typed into a shell
    r = lb.run("bash -s", input=f"scp -t {ROOT}/x\n".encode())
    assert b"cannot be followed file by file" in r.stderr, describe(r)
    assert not os.path.exists(f"{ROOT}/x")
    lb.assert_serving()


@pytest.mark.parametrize("records,why", [
    (b"X junk\n", b"a record that is not C, D, E or T"),
    (b"C0644 3 ../evil\n", b"a file name with / in it"),
    (b"C0644 3 a", None),     # cut short by the end of input: dropped
])
def test_malformed_records(lb, records, why):
    before = lb.last_session_id()
    r = lb.run(f"scp -t {ROOT}/", input=records, timeout=30)
    s = lb.wait_session(before)
    if why is not None:
        assert r.returncode == EX_NOT_PERMITTED, describe(r)
        assert b"bastion: not permitted: the agent sent " + why in r.stderr, describe(r)
    else:
        errs = [e["detail"] for e in lb.show(s["id"])["log"] if e["kind"] == "error"]
        assert any(e.get("scp") == "record" for e in errs), errs
    assert not os.path.exists(f"{ROOT}/evil") and not os.path.exists(f"{ROOT}/a")
    verified(lb, s["id"])
    lb.assert_serving()
