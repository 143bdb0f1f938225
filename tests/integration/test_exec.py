"""Relaying exec and shell channels through the bastion with stock OpenSSH."""

import os
import re
import subprocess
import time

import pytest

from helpers import PtyRun, sha256_file


def out(r):
    return r.stdout.decode(errors="replace")


def err(r):
    return r.stderr.decode(errors="replace")


def describe(r):
    return f"rc={r.returncode} stdout={r.stdout[:500]!r} stderr={r.stderr[:1000]!r}"


# --------------------------------------------------------------------------
# the fixture itself: the target sshd must work directly, or nothing else means anything

def test_target_sshd_direct(world, sshd):
    r = world.direct_ssh(sshd, "echo direct-ok; id -un")
    assert r.returncode == 0, describe(r)
    assert out(r) == "direct-ok\nroot\n"


# --------------------------------------------------------------------------
# exec basics

def test_uname_matches_target(bastion, world, sshd):
    direct = world.direct_ssh(sshd, "uname -a")
    r = bastion.run("uname -a", login="root@web1")
    assert r.returncode == 0, describe(r)
    assert r.stdout == direct.stdout
    assert r.stdout.startswith(b"Linux ")
    assert r.stderr == b""


def test_echo_exact_bytes(bastion):
    r = bastion.run("printf 'a b\\tc\\n\\001\\377end'")
    assert r.returncode == 0, describe(r)
    assert r.stdout == b"a b\tc\n\x01\xffend"


def test_default_user(bastion):
    # -l web1: no target user given, the target's default user ("root")
    r = bastion.ssh(["-l", "web1", "127.0.0.1", "id -un"])
    assert r.returncode == 0, describe(r)
    assert out(r) == "root\n"


def test_explicit_user(bastion):
    r = bastion.run("id -un", login="root@web1")
    assert r.returncode == 0, describe(r)
    assert out(r) == "root\n"


@pytest.mark.parametrize("status", [0, 1, 3, 42, 255])
def test_exit_status_propagated(bastion, status):
    r = bastion.run(f"echo before; exit {status}")
    assert r.returncode == status, describe(r)
    assert out(r) == "before\n"
    # a remote exit status is not a bastion error
    assert "bastion:" not in err(r)


def test_stdout_stderr_separated(bastion):
    r = bastion.run("echo out; echo err >&2; echo out2; echo err2 >&2")
    assert r.returncode == 0, describe(r)
    assert r.stdout == b"out\nout2\n"
    assert r.stderr == b"err\nerr2\n"


def test_stdin_piped(bastion):
    data = b"line one\nline two\n\x00binary\xff\n"
    r = bastion.run("cat; echo END", input=data)
    assert r.returncode == 0, describe(r)
    assert r.stdout == data + b"END\n"


def test_stdin_eof_delivered(bastion):
    # wc can only print once it has seen EOF on its stdin
    r = bastion.run("wc -c", input=b"x" * 12345, timeout=30)
    assert r.returncode == 0, describe(r)
    assert out(r).strip() == "12345"


def test_no_stdin(bastion):
    r = subprocess.run(bastion.ssh_base() + ["-n", "web1@127.0.0.1", "cat; echo done"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, describe(r)
    assert r.stdout == b"done\n"


@pytest.mark.slow
def test_cat_roundtrip_50mb(bastion, blob50, tmp_path):
    path, digest = blob50
    dst = tmp_path / "back"
    with open(path, "rb") as fin, open(dst, "wb") as fout:
        r = subprocess.run(bastion.ssh_base() + ["web1@127.0.0.1", "cat"],
                           stdin=fin, stdout=fout, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert dst.stat().st_size == path.stat().st_size
    assert sha256_file(dst) == digest


@pytest.mark.slow
def test_cat_pipe_sha256_50mb(bastion, blob50):
    # EOF ordering: sha256sum prints only after all of stdin arrived
    path, digest = blob50
    with open(path, "rb") as fin:
        r = subprocess.run(bastion.ssh_base() + ["web1@127.0.0.1", "sha256sum"],
                           stdin=fin, capture_output=True, timeout=120)
    assert r.returncode == 0, describe(r)
    assert out(r).split()[0] == digest


@pytest.mark.slow
def test_download_50mb(bastion, blob50, tmp_path):
    # the target is this machine: it reads the file the client hashed
    path, digest = blob50
    dst = tmp_path / "down"
    with open(dst, "wb") as fout:
        r = subprocess.run(bastion.ssh_base() + ["web1@127.0.0.1", f"cat {path}"],
                           stdin=subprocess.DEVNULL, stdout=fout,
                           stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert sha256_file(dst) == digest


@pytest.mark.slow
def test_upload_50mb(bastion, blob50, tmp_path):
    path, digest = blob50
    remote = tmp_path / "uploaded"
    with open(path, "rb") as fin:
        r = subprocess.run(bastion.ssh_base() + ["web1@127.0.0.1",
                                                 f"cat > {remote}; sha256sum < {remote}"],
                           stdin=fin, capture_output=True, timeout=120)
    assert r.returncode == 0, describe(r)
    assert out(r).split()[0] == digest
    assert sha256_file(remote) == digest


@pytest.mark.slow
def test_download_200mb_zeros(bastion):
    p = bastion.popen("head -c 200M /dev/zero; echo tail >&2")
    n = 0
    while True:
        d = p.stdout.read(1 << 20)
        if not d:
            break
        assert d.count(0) == len(d)
        n += len(d)
    e = p.stderr.read()
    assert p.wait(60) == 0
    assert n == 200 << 20
    assert e == b"tail\n"


# --------------------------------------------------------------------------
# exit signals: the bastion must report them as the target did

def test_exit_signal_like_direct(bastion, world, sshd):
    cmd = "echo x; kill -TERM $$"
    direct = world.direct_ssh(sshd, cmd, opts=["-v"])
    via = bastion.run(cmd, opts=["-v"])
    marker = "rtype exit-signal"
    assert marker in err(direct), "direct ssh did not see exit-signal: " + err(direct)[-2000:]
    assert via.returncode == direct.returncode, (
        f"direct rc={direct.returncode}, via bastion rc={via.returncode}; "
        f"bastion stderr={err(via)[-2000:]}")
    assert via.stdout == direct.stdout == b"x\n"
    assert marker in err(via), "ssh did not get an exit-signal through the bastion:\n" + err(via)[-3000:]
    assert "rtype exit-status" not in err(via)
    assert "bastion:" not in err(via)


def test_exit_signal_quiet_matches_direct(bastion, world, sshd):
    cmd = "kill -KILL $$"
    direct = world.direct_ssh(sshd, cmd)
    via = bastion.run(cmd)
    assert (via.returncode, via.stdout, via.stderr) == \
        (direct.returncode, direct.stdout, direct.stderr)


# --------------------------------------------------------------------------
# environment

ENV_CMD = 'echo "LANG=$LANG|T=$BASTION_TEST_VAR|E=$EVIL|LC=$LC_TIME"'
ENV_OPT = ["-o", "SetEnv=LANG=C.UTF-8 BASTION_TEST_VAR=x EVIL=y LC_TIME=C"]


def test_env_direct_accepts_all(world, sshd):
    # proves that the target sshd would accept EVIL: filtering is the bastion's
    r = world.direct_ssh(sshd, ENV_CMD, opts=ENV_OPT)
    assert out(r) == "LANG=C.UTF-8|T=x|E=y|LC=C\n", describe(r)


def test_env_filtered(bastion):
    r = bastion.run(ENV_CMD, opts=ENV_OPT)
    assert r.returncode == 0, describe(r)
    assert out(r) == "LANG=C.UTF-8|T=x|E=|LC=C\n"


def test_env_pty_filtered(bastion):
    p = PtyRun(bastion.ssh_base() + ["-tt"] + ENV_OPT + ["web1@127.0.0.1", ENV_CMD])
    rc = p.wait(30)
    assert rc == 0, bytes(p.out)
    assert bytes(p.out).replace(b"\r\n", b"\n") == b"LANG=C.UTF-8|T=x|E=|LC=C\n"


# --------------------------------------------------------------------------
# ptys

def test_pty_command(bastion):
    p = PtyRun(bastion.ssh_base() + ["-tt", "web1@127.0.0.1", "tty; stty size; exit 5"],
               winsize=(33, 111))
    rc = p.wait(30)
    text = bytes(p.out).decode(errors="replace")
    assert rc == 5, text
    assert re.search(r"^/dev/pts/\d+\r$", text, re.M), text
    assert "33 111\r\n" in text


def test_no_pty_without_t(bastion):
    r = bastion.run("tty; true")
    assert out(r) == "not a tty\n", describe(r)


def test_pty_interactive_shell(bastion):
    p = PtyRun(bastion.ssh_base() + ["-tt", "web1@127.0.0.1"], winsize=(40, 120))
    try:
        p.expect(b"", timeout=20)     # any output: the prompt; raw mode is on now
        time.sleep(0.3)
        p.send(b"echo MARK$((6*7)); tty; stty size; exit 7\r")
        rc = p.wait(30)
    finally:
        p.kill()
    text = bytes(p.out).decode(errors="replace")
    assert rc == 7, text
    assert "MARK42\r\n" in text            # the shell ran it (the echo shows "$((6*7))")
    assert re.search(r"^/dev/pts/\d+\r$", text, re.M), text
    assert "40 120\r\n" in text


@pytest.mark.parametrize("rows,cols", [(24, 80), (50, 200), (7, 33)])
def test_pty_initial_winsize(bastion, rows, cols):
    p = PtyRun(bastion.ssh_base() + ["-tt", "web1@127.0.0.1", "stty size"],
               winsize=(rows, cols))
    rc = p.wait(30)
    assert rc == 0, bytes(p.out)
    assert bytes(p.out) == f"{rows} {cols}\r\n".encode()


def test_pty_window_change(bastion):
    p = PtyRun(bastion.ssh_base() + ["-tt", "web1@127.0.0.1"], winsize=(24, 80))
    try:
        p.expect(b"", timeout=20)
        time.sleep(0.3)
        p.send(b"stty size; echo A$((1+1))\r")
        i = p.expect(b"A2\r\n")
        assert b"24 80\r\n" in p.out
        p.resize(30, 100)              # SIGWINCH to ssh -> window-change request
        time.sleep(0.5)
        p.send(b"stty size; echo B$((1+2))\r")
        p.expect(b"B3\r\n", start=i)
        assert b"30 100\r\n" in p.out[i:], bytes(p.out)
        p.send(b"exit\r")
        assert p.wait(20) == 0
    finally:
        p.kill()


# --------------------------------------------------------------------------
# multiplexing (ControlMaster): several channels over one connection

@pytest.fixture
def control_master(bastion, tmp_path):
    cp = f"/tmp/bst-cm-{os.getpid()}-{tmp_path.name[-12:]}"
    opts = ["-o", f"ControlPath={cp}", "-o", "ControlPersist=10"]
    log = tmp_path / "master.log"
    before = bastion.last_session_id()
    with open(log, "wb") as lf:
        r = subprocess.run(bastion.ssh_base() + opts +
                           ["-o", "ControlMaster=yes", "-f", "-N", "web1@127.0.0.1"],
                           stdin=subprocess.DEVNULL, stdout=lf, stderr=lf, timeout=30)
    assert r.returncode == 0, log.read_text()
    chk = subprocess.run(bastion.ssh_base() + opts + ["-O", "check", "web1@127.0.0.1"],
                         capture_output=True, timeout=10)
    assert chk.returncode == 0, describe(chk)
    yield opts + ["-o", "ControlMaster=no"], before
    subprocess.run(bastion.ssh_base() + opts + ["-O", "exit", "web1@127.0.0.1"],
                   capture_output=True, timeout=10)
    if os.path.exists(cp):
        os.unlink(cp)


def test_controlmaster_sequential(bastion, control_master):
    control_master, before = control_master
    for i in range(4):
        r = bastion.run(f"echo mux{i}; exit {i}", opts=control_master)
        assert r.returncode == i, describe(r)
        assert out(r) == f"mux{i}\n"
    r = bastion.run("cat", opts=control_master, input=b"via-mux-stdin")
    assert r.stdout == b"via-mux-stdin", describe(r)
    # all of it rode on the master's SSH connection: one session in all
    ids = [s["id"] for s in bastion.sessions() if s["id"] > before]
    assert len(ids) == 1, f"expected one multiplexed session, got {ids}"
    assert len(bastion.show(ids[0])["channels"]) == 5


def test_controlmaster_concurrent(bastion, control_master):
    control_master, _ = control_master
    t0 = time.monotonic()
    ps = [bastion.popen(f"sleep 2; echo c{i}", opts=control_master) for i in range(3)]
    res = [p.communicate(timeout=30) for p in ps]
    elapsed = time.monotonic() - t0
    for i, (p, (o, e)) in enumerate(zip(ps, res)):
        assert p.returncode == 0, (o, e)
        assert o == f"c{i}\n".encode()
    assert elapsed < 5.5, f"3 concurrent 'sleep 2' channels took {elapsed:.1f}s: not concurrent"


def test_controlmaster_concurrent_streams(bastion, control_master):
    control_master, _ = control_master
    # two channels carrying data at the same time must not mix
    ps = [bastion.popen(f"head -c 5M /dev/zero | tr '\\0' '{c}'", opts=control_master)
          for c in "ab"]
    res = [p.communicate(timeout=60) for p in ps]
    for c, p, (o, e) in zip("ab", ps, res):
        assert p.returncode == 0, e
        assert len(o) == 5 << 20 and o.count(c.encode()) == len(o)


# --------------------------------------------------------------------------
# keepalives

def test_client_keepalive_answered(bastion):
    # the client sends keepalive@openssh.com every second and gives up after
    # 2 unanswered ones: the bastion must answer them
    r = bastion.run("sleep 4; echo done",
                    opts=["-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"],
                    timeout=30)
    assert r.returncode == 0, describe(r)
    assert out(r) == "done\n"


def test_bastion_keepalive(make_bastion):
    # the bastion's own keepalives every second must not break a quiet session
    b = make_bastion(keepalive_interval=1)
    r = b.run("sleep 4; echo done", timeout=30)
    assert r.returncode == 0, describe(r)
    assert out(r) == "done\n"


def test_many_sequential_sessions(bastion):
    for i in range(15):
        r = bastion.run(f"echo {i}")
        assert r.returncode == 0 and out(r) == f"{i}\n", describe(r)


def test_parallel_connections(bastion):
    ps = [bastion.popen(f"sleep 1; echo p{i}") for i in range(8)]
    for i, p in enumerate(ps):
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0, e
        assert o == f"p{i}\n".encode()


def test_pty_bulk_output(bastion):
    # flow control through a pty: 100000 lines, none lost or reordered
    p = PtyRun(bastion.ssh_base() + ["-tt", "web1@127.0.0.1", "seq 1 100000"])
    rc = p.wait(60)
    assert rc == 0
    expect = "".join(f"{i}\r\n" for i in range(1, 100001)).encode()
    assert bytes(p.out) == expect


@pytest.mark.slow
def test_parallel_downloads(bastion, blob50):
    path, digest = blob50
    ps = [bastion.popen(f"cat {path}") for _ in range(4)]
    import hashlib
    import threading
    results = [None] * len(ps)

    def drain(i, p):
        h = hashlib.sha256()
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
            h.update(chunk)
        results[i] = h.hexdigest()
    ts = [threading.Thread(target=drain, args=(i, p)) for i, p in enumerate(ps)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    for p in ps:
        assert p.wait(10) == 0, p.stderr.read()
    assert results == [digest] * len(ps)


# --------------------------------------------------------------------------
# flow control: a slow side must not make the worker buffer the stream

class WorkerMemory:
    """Samples the peak VmHWM (kB) of the bastion's workers in a thread."""

    def __init__(self, bastion):
        import threading
        self.b = bastion
        self.peak = 0
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            for p in self.b.worker_pids():
                try:
                    with open(f"/proc/{p}/status") as f:
                        for ln in f:
                            if ln.startswith("VmHWM:"):
                                self.peak = max(self.peak, int(ln.split()[1]))
                except OSError:
                    pass
            time.sleep(0.05)

    def done(self):
        self.stop = True
        self.t.join(5)
        return self.peak / 1024


WORKER_MB_LIMIT = 64
memory_test = pytest.mark.skipif(
    bool(os.environ.get("ASAN_OPTIONS")),
    reason="RSS is meaningless under ASan (its quarantine alone holds 256 MB)")


@pytest.mark.slow
@memory_test
def test_slow_reader_memory_bounded(bastion):
    import signal
    mem = WorkerMemory(bastion)
    p = bastion.popen("head -c 200M /dev/zero")
    n = len(p.stdout.read(1 << 20))
    os.kill(p.pid, signal.SIGSTOP)      # the agent stops reading for 3 s
    time.sleep(3)
    os.kill(p.pid, signal.SIGCONT)
    for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
        n += len(chunk)
    assert p.wait(60) == 0
    peak = mem.done()
    assert n == 200 << 20
    assert 0 < peak < WORKER_MB_LIMIT, f"worker peak RSS {peak:.1f} MB"


@pytest.mark.slow
@memory_test
def test_slow_target_reader_memory_bounded(bastion, tmp_path):
    # the target reads its stdin only after 3 s; the agent pushes 200 MB
    mem = WorkerMemory(bastion)
    src = subprocess.Popen(["head", "-c", "200M", "/dev/zero"], stdout=subprocess.PIPE)
    r = subprocess.run(bastion.ssh_base() + ["web1@127.0.0.1", "sleep 3; wc -c"],
                       stdin=src.stdout, capture_output=True, timeout=120)
    src.wait(10)
    peak = mem.done()
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(200 << 20).encode()
    assert 0 < peak < WORKER_MB_LIMIT, f"worker peak RSS {peak:.1f} MB"


def test_command_ignores_stdin(bastion):
    # the remote command exits without reading 20 MB of stdin: no hang
    r = bastion.run("head -c 5", input=b"0123456789" * (2 << 20), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"01234"


def test_long_command_line(bastion):
    arg = "x" * 60000
    before = bastion.last_session_id()
    r = bastion.run(f"echo {arg} | wc -c")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == b"60001"
    s = bastion.wait_session(before)
    assert bastion.show(s["id"])["channels"][0]["command"] == f"echo {arg} | wc -c"


def test_long_target_name(bastion):
    # (OpenSSH itself refuses control characters in user names)
    r = bastion.run("true", login="w" * 2000)
    assert r.returncode == 68, r.stderr
    lines = r.stderr.decode(errors="replace").splitlines()
    assert len(lines) == 1 and lines[0].startswith("bastion: unknown target"), lines
    assert len(lines[0]) < 1000, "the refusal echoes the whole 2000-character name"
