"""Errors the agent sees, configuration checking, and failures mid-session."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

import helpers
from helpers import (EX_NOT_PERMITTED, EX_UNKNOWN_TARGET, EX_UNREACHABLE,
                     EX_UPSTREAM_AUTH, free_port, pid_alive, wait_until)


def describe(r):
    return f"rc={r.returncode} stdout={r.stdout[:500]!r} stderr={r.stderr[:1000]!r}"


def bastion_lines(r):
    return [ln for ln in r.stderr.decode(errors="replace").splitlines()
            if ln.startswith("bastion: ")]


def check_agent_error(b, r, status, prefix, end_reason, before, serving=True):
    """The agent got exactly one 'bastion: PREFIX...' line and STATUS; the
    session is recorded with END_REASON; the bastion still serves."""
    lines = bastion_lines(r)
    assert r.returncode == status, describe(r)
    assert len(lines) == 1, f"expected one 'bastion: ' line, got {lines!r} ({describe(r)})"
    assert lines[0].startswith("bastion: " + prefix), lines
    assert r.stdout == b""
    s = b.wait_session(before)
    if end_reason is not None:
        assert s["end_reason"] == end_reason, s
    v = b.ctl("verify", s["id"])
    assert v.returncode == 0 and b"OK" in v.stdout, describe(v)
    if serving:
        b.assert_serving()
    return s, lines[0]


# --------------------------------------------------------------------------
# agent-visible errors on the main bastion

def test_unknown_target(bastion):
    before = bastion.last_session_id()
    r = bastion.run("true", login="web9")
    s, line = check_agent_error(bastion, r, EX_UNKNOWN_TARGET, 'unknown target "web9"',
                                "target-refused", before)
    assert s["identity"] == "agent-ci"


def test_unknown_target_with_user(bastion):
    before = bastion.last_session_id()
    r = bastion.run("true", login="root@nosuch")
    check_agent_error(bastion, r, EX_UNKNOWN_TARGET, 'unknown target "nosuch"',
                      "target-refused", before)


def test_identity_not_allowed(bastion, world):
    before = bastion.last_session_id()
    r = bastion.run("true", key=world.outsider_key)
    s, line = check_agent_error(bastion, r, EX_NOT_PERMITTED, "not permitted",
                                "target-refused", before)
    assert s["identity"] == "outsider"


def test_target_user_not_allowed(bastion):
    before = bastion.last_session_id()
    r = bastion.run("true", login="nobody@web1")
    check_agent_error(bastion, r, EX_NOT_PERMITTED, "not permitted", "target-refused", before)


def test_target_user_not_allowed_pty(bastion):
    # the error must also reach an agent that asked for a pty
    r = bastion.run("true", login="nobody@web1", opts=["-tt"])
    assert r.returncode == EX_NOT_PERMITTED, describe(r)
    assert b"bastion: not permitted" in r.stdout + r.stderr


def test_unknown_agent_key(bastion, world):
    r = bastion.run("true", key=world.unknown_key)
    assert r.returncode == 255, describe(r)
    assert b"Permission denied (publickey)" in r.stderr
    bastion.assert_serving()


def test_direct_tcpip_refused_W(bastion, sshd):
    r = bastion.ssh(["-o", "LogLevel=INFO", "-W", f"127.0.0.1:{sshd.port}", "web1@127.0.0.1"],
                    input=b"", timeout=30)
    assert r.returncode == 255, describe(r)
    assert b"administratively prohibited" in r.stderr, describe(r)
    assert b"SSH-2.0" not in r.stdout
    bastion.assert_serving()


def refused_requests(bastion, sid):
    """The session-level requests recorded as refused, as dicts."""
    out = []
    for _, ch, _, data in bastion.events(sid, ["request"]):
        d = json.loads(data if isinstance(data, str) else bytes(data).decode())
        if ch == -1 and d.get("accepted") is False:   # -1: the session itself
            out.append(d)
    return out


def test_local_forward_refused(bastion, sshd):
    lport = free_port()
    before = bastion.last_session_id()
    p = bastion.popen(None, opts=["-N", "-o", "LogLevel=INFO",
                                  "-L", f"127.0.0.1:{lport}:127.0.0.1:{sshd.port}"])
    try:
        import socket

        def connected():
            try:
                return socket.create_connection(("127.0.0.1", lport), 1)
            except OSError:
                if p.poll() is not None:
                    raise AssertionError(f"ssh -L exited {p.returncode}: {p.stderr.read()!r}")
                return None
        s = wait_until(connected, 15, what="ssh -L listening")
        s.settimeout(5)
        try:
            data = s.recv(100)
        except (socket.timeout, ConnectionResetError):
            data = b""
        s.close()
        assert not data.startswith(b"SSH-2.0"), "the forward reached the target sshd"
        time.sleep(0.3)
    finally:
        p.terminate()
        _, e = p.communicate(timeout=10)
    assert b"administratively prohibited" in e, e
    # the attempt is on record, with where it wanted to go
    s = bastion.wait_session(before)
    refused = refused_requests(bastion, s["id"])
    assert {"type": "channel-open", "channel_type": "direct-tcpip", "host": "127.0.0.1",
            "port": sshd.port} in [{k: d.get(k) for k in ("type", "channel_type", "host", "port")}
                                   for d in refused], refused
    assert all("not supported" in d["reason"] for d in refused), refused
    bastion.assert_serving()


def test_remote_forward_refused(bastion):
    rport = free_port()
    before = bastion.last_session_id()
    r = bastion.ssh(["-o", "ExitOnForwardFailure=yes", "-R", f"127.0.0.1:{rport}:127.0.0.1:9",
                     "web1@127.0.0.1", "echo should-not-run"], timeout=30)
    assert r.returncode == 255, describe(r)
    assert b"should-not-run" not in r.stdout
    s = bastion.wait_session(before)
    refused = refused_requests(bastion, s["id"])
    assert [(d["type"], d.get("port")) for d in refused] == [("tcpip-forward", rport)], refused
    bastion.assert_serving()


def test_x11_forwarding_refused(bastion):
    # the client asks for X11 (DISPLAY set, -X): refused, recorded, and the
    # command still runs without a display
    before = bastion.last_session_id()
    env = dict(os.environ, DISPLAY="127.0.0.1:99")
    r = subprocess.run(bastion.ssh_base() + ["-X", "web1@127.0.0.1", 'echo "D=$DISPLAY"'],
                       capture_output=True, timeout=30, env=env)
    assert r.returncode == 0, describe(r)
    assert r.stdout == b"D=\n"
    s = bastion.wait_session(before)
    assert [d["type"] for d in refused_requests(bastion, s["id"])] == ["x11-req"]


def test_agent_forwarding_not_relayed(bastion, world):
    # even if the client offers agent forwarding, the target sees no agent;
    # the attempt is recorded on the channel it was made on
    before = bastion.last_session_id()
    env = dict(os.environ)
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, timeout=10)
    m = re.search(r"SSH_AUTH_SOCK=([^;]+);.*SSH_AGENT_PID=(\d+);", agent.stdout, re.S)
    assert m, agent.stdout
    env["SSH_AUTH_SOCK"] = m.group(1)
    try:
        r = subprocess.run(bastion.ssh_base() + ["-A", "-o", "IdentityAgent=" + m.group(1),
                                                 "web1@127.0.0.1", 'echo "A=$SSH_AUTH_SOCK"'],
                           capture_output=True, timeout=30, env=env)
    finally:
        os.kill(int(m.group(2)), signal.SIGTERM)
    assert r.returncode == 0, describe(r)
    assert r.stdout == b"A=\n"
    s = bastion.wait_session(before)
    asked = [(ch, json.loads(data if isinstance(data, str) else bytes(data).decode()))
             for _, ch, _, data in bastion.events(s["id"], ["request"])]
    agent = [(ch, d) for ch, d in asked if d["type"] == "auth-agent-req"]
    assert len(agent) == 1, asked
    ch, d = agent[0]
    assert ch >= 0 and d["accepted"] is False and "not supported" in d["reason"], agent
    # on the same channel as the command that ran
    assert (ch, "exec") in [(c, x["type"]) for c, x in asked], asked


# --------------------------------------------------------------------------
# upstream failures: a separate bastion with broken targets

@pytest.fixture
def broken_bastion(world, sshd, make_bastion):
    dead_port = free_port()   # nothing listens there
    targets = [
        world.target("web1", sshd),
        world.target("down", sshd, port=dead_port),
        world.target("mismatch", sshd,
                     host_key=" ".join(helpers.pubkey(world.other_host_key).split()[:2])),
        world.target("badkey", sshd, key="wrong_upstream_ed25519"),
        world.target("blackhole", sshd, host="10.255.255.1", port=22, connect_timeout=2),
    ]
    return make_bastion(targets=targets)


def test_target_unreachable(broken_bastion):
    b = broken_bastion
    before = b.last_session_id()
    r = b.run("true", login="down")
    check_agent_error(b, r, EX_UNREACHABLE, "target unreachable", "target-unreachable", before)


@pytest.mark.slow
def test_target_connect_timeout(broken_bastion):
    b = broken_bastion
    before = b.last_session_id()
    t0 = time.monotonic()
    r = b.run("true", login="blackhole", timeout=60)
    dt = time.monotonic() - t0
    check_agent_error(b, r, EX_UNREACHABLE, "target unreachable", "target-unreachable", before)
    assert dt < 15, f"connect_timeout 2 but the agent waited {dt:.1f}s"


# --------------------------------------------------------------------------
# target names: resolved by the resolver process, never in the monitor's loop

@pytest.fixture
def slowdns_bastion(world, sshd, make_bastion):
    """A bastion whose DNS takes 3 s for names starting "slow-" (slowdns.c)."""
    if not helpers.SLOWDNS_LIB.exists():
        pytest.fail(f"{helpers.SLOWDNS_LIB} missing: run make integration")
    targets = [
        world.target("web1", sshd),
        world.target("byname", sshd, host="slow-127.0.0.1", connect_timeout=15),
        world.target("slowname", sshd, host="slow-127.0.0.1", connect_timeout=1),
        world.target("noname", sshd, host="no-such-host.invalid", connect_timeout=5),
    ]
    b = make_bastion(targets=targets, start=False)
    b.extra_env = {"LD_PRELOAD": str(helpers.SLOWDNS_LIB), "SLOWDNS_SECONDS": "3",
                   # sanitizer builds: the preloaded stand-in comes first
                   "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                   ":verify_asan_link_order=0"}
    return b.start()


@pytest.mark.skipif(helpers.WRAPPED, reason="the slow-DNS stand-in is an LD_PRELOAD")
def test_slow_dns_stalls_no_one(slowdns_bastion):
    # While a target name takes 3 s to resolve, other sessions run at once
    # (a getaddrinfo in the monitor would hold every session up), and the
    # slow one still gets through once the name is known.
    b = slowdns_bastion
    before = b.last_session_id()
    slow = b.popen("echo resolved", login="byname")
    try:
        wait_until(lambda: b.last_session_id() > before, 10, what="the slow session")
        t0 = time.monotonic()
        for i in range(3):
            r = b.run(f"echo fast{i}")
            assert r.returncode == 0 and r.stdout == f"fast{i}\n".encode(), describe(r)
        dt = time.monotonic() - t0
        assert slow.poll() is None, "the slow name resolved too soon to prove anything"
        assert dt < 2.5, f"three commands took {dt:.1f}s while a name was resolving"
        out, err = slow.communicate(timeout=30)
    finally:
        if slow.poll() is None:
            slow.kill()
    assert slow.returncode == 0 and out == b"resolved\n", (slow.returncode, out, err)


def test_dns_timeout(slowdns_bastion):
    # Slower than the target's connect timeout: a clear error, exit 69.
    b = slowdns_bastion
    before = b.last_session_id()
    t0 = time.monotonic()
    r = b.run("true", login="slowname")
    dt = time.monotonic() - t0
    _, line = check_agent_error(b, r, EX_UNREACHABLE, "target unreachable",
                                "target-unreachable", before)
    assert "cannot resolve slow-127.0.0.1 within 1s" in line, line
    assert dt < 2.9, f"connect_timeout 1 but the agent waited {dt:.1f}s"


def test_unknown_name(slowdns_bastion):
    b = slowdns_bastion
    before = b.last_session_id()
    r = b.run("true", login="noname")
    _, line = check_agent_error(b, r, EX_UNREACHABLE, "target unreachable",
                                "target-unreachable", before)
    assert "cannot resolve no-such-host.invalid" in line, line


@pytest.mark.skipif(helpers.WRAPPED, reason="finds the resolver by its process title")
def test_resolver_gone(slowdns_bastion):
    # Without its resolver the bastion fails closed for names, with a clear
    # line, and keeps serving targets given by address.
    b = slowdns_bastion
    resolver = [p for p in b.child_pids()
                if helpers.proc_cmdline(p).startswith("bastion: resolver")]
    assert len(resolver) == 1, [helpers.proc_cmdline(p) for p in b.child_pids()]
    os.kill(resolver[0], signal.SIGKILL)
    wait_until(lambda: "resolver: gone" in b.log_text(), 10, what="the monitor noticing")
    before = b.last_session_id()
    r = b.run("true", login="noname")
    _, line = check_agent_error(b, r, EX_UNREACHABLE, "target unreachable",
                                "target-unreachable", before)
    assert "the resolver is not available" in line, line
    b.assert_serving()


def test_target_host_key_mismatch(broken_bastion, sshd):
    b = broken_bastion
    log_off = sshd.log.stat().st_size
    before = b.last_session_id()
    r = b.run("touch /tmp/should-not-exist-mismatch", login="mismatch")
    check_agent_error(b, r, EX_UPSTREAM_AUTH, "target host key mismatch",
                      "host-key-mismatch", before, serving=False)
    # the bastion must not have authenticated to a host it does not trust
    tlog = sshd.log.read_bytes()[log_off:].decode(errors="replace")
    assert "Accepted publickey" not in tlog, tlog
    assert not os.path.exists("/tmp/should-not-exist-mismatch")
    b.assert_serving()


def test_upstream_auth_failed(broken_bastion):
    b = broken_bastion
    before = b.last_session_id()
    r = b.run("true", login="badkey")
    check_agent_error(b, r, EX_UPSTREAM_AUTH, "upstream authentication failed",
                      "upstream-auth-failed", before)


def test_errors_do_not_leak_workers(broken_bastion):
    b = broken_bastion
    for login in ("down", "mismatch", "badkey", "web9"):
        b.run("true", login=login)
    time.sleep(1)
    left = [(p, helpers.proc_cmdline(p)) for p in b.worker_pids() if pid_alive(p)]
    assert left == [], f"worker processes left after failed sessions: {left}"


# --------------------------------------------------------------------------
# configuration check: bastion -t

def check_config(path):
    return subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(path)],
                          capture_output=True, timeout=30)


@pytest.fixture
def cfgdir(world):
    """A folder with a valid config (bastion.json) and the key files it names.
    Short path: values quoted in messages are truncated to 60 characters."""
    import shutil
    import tempfile
    from pathlib import Path
    d = Path(tempfile.mkdtemp(prefix="bc", dir="/tmp"))
    for src, dst in ((world.bastion_host_key, "bastion_host_ed25519"),
                     (world.upstream_key, "upstream_ed25519")):
        shutil.copy(src, d / dst)
        os.chmod(d / dst, 0o600)
    cfg = world.config(free_port())
    yield d, cfg
    shutil.rmtree(d, ignore_errors=True)


def write(path, cfg):
    path.write_text(json.dumps(cfg, indent=2) + "\n")
    return path


def key_re(key):
    """The key path as printed: array elements may carry the element's name,
    e.g. targets[0] "web1".port for targets[0].port (config.c's format)."""
    return re.escape(key).replace(r"\]", r"\](?: \"[^\"]*\")?")


def assert_config_problem(path, *keys):
    r = check_config(path)
    e = r.stderr.decode(errors="replace")
    assert r.returncode == 1, f"bastion -t accepted a broken config: {describe(r)}"
    assert b"configuration OK" not in r.stdout
    lines = [ln for ln in e.splitlines() if ln.strip()]
    assert lines, "no problem reported"
    for ln in lines:
        assert ln.startswith(f"{path}: "), f"line does not start with the file name: {ln!r}"
    for k in keys:
        assert any(re.search(f": {key_re(k)}: ", ln) for ln in lines), \
            f"no line names {k!r}: {lines}"
    return lines


def test_config_ok(cfgdir):
    d, cfg = cfgdir
    r = check_config(write(d / "bastion.json", cfg))
    assert r.returncode == 0, describe(r)
    assert b"configuration OK" in r.stdout


def test_config_comments_allowed(cfgdir):
    d, cfg = cfgdir
    text = json.dumps(cfg, indent=2)
    text = "// the bastion's config\n/* block\n comment */\n" + \
        text.replace('"keepalive_interval": 30,', '"keepalive_interval": 30, // seconds', 1)
    p = d / "commented.json"
    p.write_text(text)
    r = check_config(p)
    assert r.returncode == 0, describe(r)
    assert b"configuration OK" in r.stdout


def test_config_relative_paths(cfgdir, tmp_path):
    # run from another folder: relative key paths still resolve against the config's
    d, cfg = cfgdir
    p = write(d / "bastion.json", cfg)
    r = subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(p)], capture_output=True,
                       timeout=30, cwd="/")
    assert r.returncode == 0, describe(r)


def test_config_unknown_key(cfgdir):
    d, cfg = cfgdir
    cfg["listne"] = "127.0.0.1:1"
    assert_config_problem(write(d / "c.json", cfg), "listne")


def test_config_unknown_key_nested(cfgdir):
    d, cfg = cfgdir
    cfg["targets"][0]["hots"] = "x"
    assert_config_problem(write(d / "c.json", cfg), r"targets[0].hots")


def test_config_bad_target_port(cfgdir):
    d, cfg = cfgdir
    cfg["targets"][0]["port"] = 70000
    lines = assert_config_problem(write(d / "c.json", cfg), "targets[0].port")
    assert any("70000" in ln for ln in lines), lines


def test_config_bad_listen_port(cfgdir):
    d, cfg = cfgdir
    cfg["listen"] = "127.0.0.1:99999"
    lines = assert_config_problem(write(d / "c.json", cfg), "listen")
    assert any("99999" in ln for ln in lines), lines


def test_config_missing_key_file(cfgdir):
    d, cfg = cfgdir
    cfg["targets"][0]["key"] = "no_such_key"
    lines = assert_config_problem(write(d / "c.json", cfg), "targets[0].key")
    assert any("no_such_key" in ln for ln in lines), lines


def test_config_missing_host_key(cfgdir):
    d, cfg = cfgdir
    cfg["host_key"] = "missing_host_key"
    assert_config_problem(write(d / "c.json", cfg), "host_key")


def test_config_bad_agent_key(cfgdir):
    d, cfg = cfgdir
    cfg["identities"][0]["keys"] = ["ssh-ed25519 not-base64!!! x"]
    assert_config_problem(write(d / "c.json", cfg), "identities[0].keys[0]")


def test_config_several_problems(cfgdir):
    d, cfg = cfgdir
    cfg["targets"][0]["port"] = 0
    cfg["targets"][0]["key"] = "nope"
    cfg["bogus"] = True
    lines = assert_config_problem(write(d / "c.json", cfg),
                                  "targets[0].port", "targets[0].key", "bogus")
    assert len(lines) >= 3


def test_config_malformed_json(cfgdir):
    d, cfg = cfgdir
    text = json.dumps(cfg, indent=2).splitlines()
    # break line 4 (1-based): drop its value
    bad_line = 4
    text[bad_line - 1] = re.sub(r":\s*.*$", ": ,", text[bad_line - 1])
    p = d / "malformed.json"
    p.write_text("\n".join(text) + "\n")
    r = check_config(p)
    e = r.stderr.decode(errors="replace")
    assert r.returncode == 1, describe(r)
    assert e.startswith(f"{p}:"), e
    assert re.search(rf"(line {bad_line}\b|:{bad_line}\b)", e), \
        f"no line number {bad_line} in: {e!r}"


def test_config_missing_file(tmp_path):
    r = check_config(tmp_path / "absent.json")
    assert r.returncode == 1, describe(r)
    assert str(tmp_path / "absent.json").encode() in r.stderr


def test_bastion_refuses_to_start_with_bad_config(world, cfgdir):
    d, cfg = cfgdir
    cfg["targets"][0]["port"] = -1
    p = write(d / "c.json", cfg)
    r = subprocess.run([str(helpers.BASTION_BIN), "-f", str(p)], capture_output=True,
                       timeout=15)
    assert r.returncode != 0
    assert re.search(key_re("targets[0].port"), r.stderr.decode(errors="replace")), r.stderr


# --------------------------------------------------------------------------
# failures mid-session

@pytest.mark.slow
def test_client_disconnects_mid_transfer(bastion):
    before = bastion.last_session_id()
    p = bastion.popen("head -c 2G /dev/zero")
    got = 0
    while got < 20 << 20:
        d = p.stdout.read(1 << 20)
        assert d, p.stderr.read()
        got += len(d)
    p.kill()
    p.wait(10)
    p.stdout.close()
    p.stderr.close()
    s = bastion.wait_session(before, timeout=30)
    assert s["end_reason"] in ("client-disconnected", "closed"), s
    v = bastion.ctl("verify", s["id"])
    assert v.returncode == 0 and b"OK" in v.stdout, describe(v)
    bastion.assert_serving()
    # the remote head must not keep running for nothing
    time.sleep(1)
    r = bastion.run("pgrep -f -x 'head -c 2G /dev/zero' || true")
    assert r.stdout == b"", f"remote command still running: {r.stdout!r}"


def test_client_disconnect_idle(bastion):
    before = bastion.last_session_id()
    p = bastion.popen("echo up; sleep 30")
    assert p.stdout.readline() == b"up\n"
    p.kill()
    p.wait(10)
    s = bastion.wait_session(before, timeout=15)
    assert s["end_reason"] in ("client-disconnected", "closed"), s
    assert bastion.ctl("verify", s["id"]).returncode == 0


@pytest.mark.slow
def test_target_dies_mid_session(world, make_sshd, make_bastion):
    t = make_sshd(name=world.unique("dying"))
    b = make_bastion(targets=[world.target("web2", t)])
    before = b.last_session_id()
    p = b.popen("echo up; sleep 30", login="web2")
    assert p.stdout.readline() == b"up\n"
    wait_until(lambda: t.session_pids(), 5, what="target session processes")
    t0 = time.monotonic()
    t.kill_sessions()
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("ssh client still running 15s after the target connection died")
    dt = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    # docs/ARCHITECTURE.md: 255 and "bastion: connection to target web2 lost"
    assert rc == 255, (rc, err)
    assert "bastion: connection to target web2 lost" in err, err
    s = b.wait_session(before, timeout=15)
    assert s["end_reason"] == "target-disconnected", s
    assert b.ctl("verify", s["id"]).returncode == 0
    assert dt < 10
    # the bastion and the target's listener still serve
    r = b.run("echo again", login="web2")
    assert r.returncode == 0 and r.stdout == b"again\n", describe(r)


@pytest.mark.slow
def test_target_stops_listening(world, make_sshd, make_bastion):
    t = make_sshd(name=world.unique("stopping"))
    b = make_bastion(targets=[world.target("web2", t), world.target("web1")])
    assert b.run("true", login="web2").returncode == 0
    t.stop()
    before = b.last_session_id()
    r = b.run("true", login="web2")
    check_agent_error(b, r, EX_UNREACHABLE, "target unreachable", "target-unreachable", before)


# --------------------------------------------------------------------------
# the monitor going away

@pytest.mark.slow
def test_monitor_killed_fails_closed_and_restart_recovers(world, make_bastion):
    b = make_bastion()
    before = b.last_session_id()
    p = b.popen("echo up; sleep 30")
    assert p.stdout.readline() == b"up\n"
    live = b.wait_session(before, ended=False)
    assert not live.get("end_reason"), live
    workers = b.worker_pids()
    assert workers, "no worker process under the monitor"
    children = b.child_pids()
    b.kill9()
    t0 = time.monotonic()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("the agent's ssh kept running 10s after the monitor was SIGKILLed "
                    "(must fail closed)")
    assert p.returncode != 0
    dt = time.monotonic() - t0
    assert dt < 8, dt
    # the agent is told why
    err = p.stderr.read()
    assert b"bastion: internal error: the bastion's monitor is unavailable" in err, err
    # the workers must be gone too (no unrecorded relaying)
    try:
        wait_until(lambda: not any(pid_alive(c) for c in children), 5)
    except TimeoutError:
        left = [(c, helpers.proc_cmdline(c)) for c in children if pid_alive(c)]
        pytest.fail(f"processes of the killed monitor still alive after 5s: {left}")
    b.start()
    s = b.wait_session(before, timeout=15)
    assert s["id"] == live["id"]
    assert s["end_reason"] == "monitor-restart", s
    v = b.ctl("verify", s["id"])
    assert v.returncode == 0 and b"OK" in v.stdout, describe(v)
    b.assert_serving()


@pytest.mark.slow
def test_monitor_sigterm_with_open_session(world, make_bastion):
    b = make_bastion()
    before = b.last_session_id()
    p = b.popen("echo up; sleep 30")
    assert p.stdout.readline() == b"up\n"
    rc = b.stop(timeout=15)
    assert rc == 0, f"SIGTERM exit status {rc}"
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("agent ssh still running after the bastion stopped")
    assert p.returncode == 69, p.returncode
    assert b"bastion: unavailable: the bastion is shutting down" in p.stderr.read()
    b.start()
    s = b.wait_session(before, timeout=15)
    assert s["end_reason"] == "monitor-shutdown", s
    assert b.ctl("verify", s["id"]).returncode == 0
    # the notice the agent got is in the recording
    assert b"shutting down" in b.event_bytes(s["id"], "err")


def test_sigterm_idle_exits_zero(make_bastion):
    b = make_bastion()
    b.assert_serving()
    assert b.stop() == 0
    assert "listening on" in b.log_text()


def test_restart_same_port(make_bastion):
    b = make_bastion()
    b.assert_serving()
    assert b.stop() == 0
    b.start()
    b.assert_serving()


def test_config_duplicate_key(cfgdir):
    d, cfg = cfgdir
    text = json.dumps(cfg, indent=2)
    # a second "database" member: json-c would silently keep the last one
    text = text.replace('"database": "bastion.db",',
                        '"database": "bastion.db",\n  "database": "other.db",', 1)
    p = d / "dup.json"
    p.write_text(text)
    r = check_config(p)
    assert r.returncode == 1, describe(r)
    assert re.search(rf"^{re.escape(str(p))}: database: ", r.stderr.decode(), re.M), r.stderr


# --------------------------------------------------------------------------
# agents that do not behave

def test_login_grace_time(world, make_bastion, tmp_path):
    """An agent that authenticates too slowly (here: stuck at its passphrase
    prompt after the bastion accepted its public key) is disconnected after
    login_grace_time and the session is recorded as login-timeout."""
    import shutil
    from helpers import PtyRun
    b = make_bastion(login_grace_time=2)
    key = tmp_path / "locked_key"
    shutil.copy(world.agent_key, key)
    shutil.copy(str(world.agent_key) + ".pub", str(key) + ".pub")
    os.chmod(key, 0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "secret", "-f", str(key)],
                   check=True, capture_output=True)
    before = b.last_session_id()
    p = PtyRun(b.ssh_base(key) + ["-o", "BatchMode=no", "web1@127.0.0.1", "true"])
    try:
        p.expect(b"passphrase", timeout=20)
        t0 = time.monotonic()
        s = b.wait_session(before, timeout=15)
        dt = time.monotonic() - t0
        # The agent has no channel: the disconnect message says why.
        p.send(b"secret\n")
        p.expect(b"bastion: not authenticated within 2s", timeout=20)
        assert p.wait() == 255
    finally:
        p.kill()
    assert s["end_reason"] == "login-timeout", s
    assert dt < 8, f"login_grace_time 2 but the session ended after {dt:.1f}s"
    b.assert_serving()


def test_silent_tcp_client_dropped(make_bastion):
    """A TCP client that never speaks SSH must not hold a worker forever."""
    import socket
    b = make_bastion(login_grace_time=2)
    before = b.last_session_id()
    s = socket.create_connection(("127.0.0.1", b.port), 5)
    s.settimeout(15)
    t0 = time.monotonic()
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    dt = time.monotonic() - t0
    s.close()
    assert data.startswith(b"SSH-2.0-"), data
    assert dt < 10, f"connection still open after {dt:.1f}s (login_grace_time 2)"
    sess = b.wait_session(before, timeout=10)
    assert sess["end_reason"] in ("login-timeout", "client-disconnected"), sess
    b.assert_serving()


def test_max_auth_tries(world, make_bastion, tmp_path):
    # an agent offering many unknown keys is cut off after max_auth_tries,
    # and told so while it still has keys to offer (an offer already in
    # flight may be answered first)
    keys = []
    for i in range(10):
        k = tmp_path / f"k{i}"
        helpers.keygen(k)
        keys += ["-i", str(k)]
    b = make_bastion(max_auth_tries=2)
    before = b.last_session_id()
    r = subprocess.run(["ssh", "-F", str(world.ssh_config), "-p", str(b.port)] + keys +
                       ["-i", str(world.agent_key), "web1@127.0.0.1", "echo in"],
                       capture_output=True, timeout=30)
    assert r.returncode == 255, describe(r)
    assert b"in\n" != r.stdout
    assert b"bastion: too many authentication failures" in r.stderr, describe(r)
    s = b.wait_session(before)
    assert s["end_reason"] == "auth-failed", s


@pytest.mark.slow
def test_keepalive_unanswered_disconnects(make_bastion):
    """keepalive_max unanswered keepalives: a frozen agent (SIGSTOP: its TCP
    connection stays up) is disconnected and its session ended."""
    b = make_bastion(keepalive_interval=1, keepalive_max=2)
    before = b.last_session_id()
    p = b.popen("echo up; sleep 60")
    assert p.stdout.readline() == b"up\n"
    os.kill(p.pid, signal.SIGSTOP)
    try:
        s = b.wait_session(before, timeout=20)
    finally:
        os.kill(p.pid, signal.SIGCONT)
        p.kill()
        p.wait(10)
    assert s["end_reason"] == "client-disconnected", s
    assert b.ctl("verify", s["id"]).returncode == 0
