"""
The session worker's sandbox (issue 4): every worker of a real session is
chrooted, unprivileged, rlimited, no_new_privs and under a seccomp filter;
a worker that tries a forbidden syscall is killed and recorded as a
sandbox violation while the monitor and the other sessions carry on; the
monitor refuses malformed worker messages.

The forbidden attempts come from the worker built with test hooks
(build/tests/bastion-session-hooks): an exec request
"bastion-test-probe:NAME" makes it try NAME from inside its sandbox.
Release builds have no such code.
"""

import contextlib
import json
import os
import re
import subprocess
import time

import pytest

import helpers
from helpers import wait_until
from test_errors import assert_config_problem, check_config, cfgdir, write  # noqa: F401

NOBODY = 65534


def status_fields(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def limits(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            soft = line[26:47].strip()
            out[name] = soft
    return out


def fd_targets(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def new_worker(b, before):
    def pred():
        pids = [p for p in b.worker_pids() if p not in before]
        if not pids:
            return None
        # past authentication: the title names identity and target
        title = helpers.proc_cmdline(pids[0])
        return pids[0] if "\u2192" in title else None
    return wait_until(pred, 15, what="a new authenticated worker")


@pytest.fixture
def hooks_bastion(world, make_bastion):
    if world.hooks_bin is None:
        pytest.fail(f"{helpers.HOOKS_BIN} missing: make build/tests/bastion-session-hooks",
                    pytrace=False)
    return make_bastion(session_binary=str(world.hooks_bin))


def session_row(b, sid):
    with contextlib.closing(b.db()) as c:
        return c.execute("SELECT end_reason, end_detail FROM sessions WHERE id=?",
                         (sid,)).fetchone()


def test_worker_is_sandboxed(bastion, world):
    before = set(bastion.worker_pids())
    p = bastion.popen("sleep 4; echo done")
    try:
        pid = new_worker(bastion, before)
        st = status_fields(pid)
        assert st["Seccomp"] == "2", st
        assert st["NoNewPrivs"] == "1", st
        assert st["Uid"].split() == [str(NOBODY)] * 4, st["Uid"]
        assert st["Gid"].split() == [str(NOBODY)] * 4, st["Gid"]
        assert st["Groups"] == "", st["Groups"]
        assert st["CapEff"] == "0000000000000000", st["CapEff"]
        # chrooted to the empty folder
        assert os.readlink(f"/proc/{pid}/root") == str(world.empty)
        assert os.listdir(world.empty) == []
        lim = limits(pid)
        assert lim["Max file size"] == "0", lim
        assert lim["Max processes"] == "0", lim
        assert lim["Max core file size"] == "0", lim
        assert int(lim["Max open files"]) <= 8, lim
        # descriptors: /dev/null, the stderr pipe, three sockets; no file
        fds = fd_targets(pid)
        assert fds.get(0) == "/dev/null" and fds.get(1) == "/dev/null", fds
        assert fds.get(2, "").startswith("pipe:"), fds
        for fd, t in fds.items():
            if fd > 2:
                assert t.startswith("socket:"), f"fd {fd} -> {t}"
        assert len(fds) <= 6, fds
        for t in fds.values():
            assert "bastion.db" not in t and "ed25519" not in t, fds
        title = helpers.proc_cmdline(pid)
        assert re.match(r"bastion: session \d+ agent-ci\u2192web1", title), title
    finally:
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == b"done\n", (p.returncode, out, err)


@pytest.mark.skipif(helpers.WRAPPED, reason="process titles of a wrapped monitor are the wrapper's")
def test_monitor_and_helpers_titled(bastion):
    title = helpers.proc_cmdline(bastion.proc.pid)
    assert title.startswith(f"bastion: monitor 127.0.0.1:{bastion.port}"), title
    kids = [helpers.proc_cmdline(p) for p in bastion.child_pids()]
    assert any(k.startswith("bastion: checkpointer ") for k in kids), kids


# syscall probes: what the kernel reports for each (glibc's fork is clone)
KILLING_PROBES = {
    "open-write": "openat",
    "socket": "socket",
    "execve": "execve",
    "ptrace": "ptrace",
    "fork": "clone",
    "kill": "kill",
}


def test_forbidden_syscalls_kill_only_their_session(hooks_bastion):
    b = hooks_bastion
    survivor = b.popen("sleep 6; echo survived")
    time.sleep(0.5)
    named = 0
    for probe, syscall in KILLING_PROBES.items():
        last = b.last_session_id()
        r = b.run(f"bastion-test-probe:{probe}", timeout=30)
        assert r.returncode == 255, (probe, r)
        assert b"not stopped" not in r.stderr, (probe, r.stderr)
        s = b.wait_session(last)
        reason, detail = session_row(b, s["id"])
        assert reason == "sandbox-violation", (probe, reason, detail)
        assert "SIGSYS" in detail, detail
        m = re.search(r"syscall (\d+) \((\w+)\)", detail)
        if m:
            named += 1
            assert m.group(2) == syscall, (probe, detail)
        assert "sandbox violation" in b.log_text(), probe
        # the monitor still serves
        b.assert_serving()
    # the kernel log may rate-limit, but not all of them
    assert named >= 1, "no violation named its syscall"
    out, err = survivor.communicate(timeout=30)
    assert survivor.returncode == 0 and out == b"survived\n", (survivor.returncode, out, err)
    # the violations are chained like everything else
    r = b.ctl("verify", "--all")
    assert r.returncode == 0, r


def test_read_only_open_fails_softly(hooks_bastion):
    # libssh opens known_hosts for reading on every rekey: EACCES, not kill
    b = hooks_bastion
    last = b.last_session_id()
    r = b.run("bastion-test-probe:open-read")
    assert r.returncode == 1, r
    assert b"probe: open for reading: Permission denied" in r.stderr, r.stderr
    s = b.wait_session(last)
    assert s["end_reason"] == "closed", s


def test_worker_log_flood_is_capped(hooks_bastion):
    # a worker may write its stderr (the bastion's log) only so much
    b = hooks_bastion
    before = b.log_size()
    r = b.run("bastion-test-probe:log-flood", timeout=60)
    assert b"probe: flooded" in r.stderr, r
    helpers.wait_until(lambda: "the rest is dropped" in b.log_text(before), 15,
                       what="the cap notice")
    grown = b.log_size() - before
    assert grown < 4.5 * 1024 * 1024, f"log grew by {grown} bytes"
    b.assert_serving()


@pytest.mark.parametrize("probe,what", [
    ("ipc-oversize", "bad frame"),
    ("ipc-unexpected", ""),
    ("ipc-truncated", ""),
])
def test_monitor_refuses_bad_worker_messages(hooks_bastion, probe, what):
    b = hooks_bastion
    other = b.popen("sleep 3; echo other-ok")
    time.sleep(0.3)
    last = b.last_session_id()
    r = b.run(f"bastion-test-probe:{probe}", timeout=30)
    assert r.returncode != 0, r
    sid = None

    def ended():
        nonlocal sid
        with contextlib.closing(b.db()) as c:
            row = c.execute("SELECT id, end_reason, end_detail FROM sessions "
                            "WHERE id > ? AND end_reason IS NOT NULL AND "
                            "end_reason != 'closed' ORDER BY id", (last,)).fetchone()
        return row
    row = wait_until(ended, 15, what="the probed session's end")
    assert row[1] == "protocol-error", row
    assert what in row[2], row
    assert "worker protocol error" in b.log_text()
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0 and out == b"other-ok\n"
    b.assert_serving()


def test_rekeys_under_the_filter(world, make_sshd, make_bastion, blob50):
    # both hops rekey every megabyte: the agent side (libssh server) and
    # the target side (libssh client reads known_hosts: EACCES)
    t = make_sshd(extra="RekeyLimit 1M\n")
    b = make_bastion(targets=[world.target(sshd=t)])
    path, digest = blob50
    with open(path, "rb") as f:
        r = b.run("cat", opts=["-v", "-o", "RekeyLimit=1M"], input=f.read(), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert helpers.hashlib.sha256(r.stdout).hexdigest() == digest
    assert r.stderr.count(b"SSH2_MSG_NEWKEYS received") >= 10, "no rekeys happened"

    r = b.run("cat > /dev/null; head -c 20000000 /dev/urandom | wc -c",
              opts=["-o", "RekeyLimit=1M"], input=b"x" * 5_000_000, timeout=120)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == b"20000000", r
    assert "sandbox violation" not in b.log_text()


def test_null_sandbox_is_loud(make_bastion):
    b = make_bastion(sandbox={"mode": "none"})
    assert "SANDBOX DISABLED" in b.log_text()
    before = set(b.worker_pids())
    p = b.popen("sleep 2; echo x")
    pid = new_worker(b, before)
    assert status_fields(pid)["Seccomp"] == "0"
    p.communicate(timeout=30)
    assert b.log_text().count("SANDBOX DISABLED") >= 2   # monitor and worker


def test_default_chroot_is_created(make_bastion, world):
    # no "chroot": the monitor creates /run/bastion/empty
    existed = [d for d in ("/run/bastion", "/run/bastion/empty") if os.path.exists(d)]
    b = make_bastion(sandbox={})
    try:
        before = set(b.worker_pids())
        p = b.popen("sleep 2; echo x")
        pid = new_worker(b, before)
        assert os.readlink(f"/proc/{pid}/root") == "/run/bastion/empty"
        out, _ = p.communicate(timeout=30)
        assert out == b"x\n"
        st = os.stat("/run/bastion/empty")
        assert st.st_uid == 0 and (st.st_mode & 0o022) == 0
    finally:
        rc = b.stop()
        # leave the machine as it was
        for d in ("/run/bastion/empty", "/run/bastion"):
            if d not in existed:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
    assert rc == 0, f"bastion exit status {rc} on SIGTERM"


def test_config_sandbox_errors(cfgdir):  # noqa: F811
    d, cfg = cfgdir
    cfg["sandbox"] = {"user": "root"}
    lines = assert_config_problem(write(d / "c1.json", cfg), "sandbox.user")
    assert any("must not be root" in ln for ln in lines), lines
    cfg["sandbox"] = {"user": "no-such-user-here"}
    lines = assert_config_problem(write(d / "c2.json", cfg), "sandbox.user")
    assert any("no such user" in ln for ln in lines), lines
    cfg["sandbox"] = {"mode": "off"}
    assert_config_problem(write(d / "c3.json", cfg), "sandbox.mode")
    (d / "afile").write_text("x")
    cfg["sandbox"] = {"chroot": str(d / "afile")}
    assert_config_problem(write(d / "c4.json", cfg), "sandbox.chroot")
    cfg["sandbox"] = {"chroot": "/tmp"}      # writable by others
    lines = assert_config_problem(write(d / "c5.json", cfg), "sandbox.chroot")
    assert any("not writable by group or others" in ln for ln in lines), lines
    # a symbolic link, even to a good folder: -t says so, as the start would
    good = d / "good-empty"
    good.mkdir(mode=0o755)
    (d / "link").symlink_to(good)
    cfg["sandbox"] = {"chroot": str(d / "link")}
    lines = assert_config_problem(write(d / "c7.json", cfg), "sandbox.chroot")
    assert any("symbolic link" in ln for ln in lines), lines
    cfg["sandbox"] = {"chroot": str(good)}
    r = check_config(write(d / "c8.json", cfg))
    assert r.returncode == 0, r.stderr
    cfg["sandbox"] = {"colour": "blue"}
    assert_config_problem(write(d / "c6.json", cfg), "sandbox.colour")


def test_nonempty_chroot_refused_at_start(world, make_bastion, tmp_path):
    full = tmp_path / "notempty"
    full.mkdir(mode=0o755)
    (full / "something").write_text("x")
    b = make_bastion(start=False, sandbox={"chroot": str(full)})
    r = subprocess.run([str(world.bastion_bin), "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 1, r
    assert b"must be empty" in r.stderr, r.stderr
