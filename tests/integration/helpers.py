"""
Shared machinery for the bastion integration tests.

Everything here drives real binaries: OpenSSH's ssh/ssh-keygen/sshd and the
bastion's build/bastion and build/bastionctl.  No Python SSH library.

World        one temp dir with every key, the ssh client config, the target
             sshd(s) and the bastions started in it.
Sshd         a real /usr/sbin/sshd -D -e on a free loopback port.
Bastion      build/bastion -f CONFIG in the foreground, its log in a file,
             with helpers to run ssh through it and to query its recording.
run_pty()    runs a command with a real pty (for ssh -tt), scripted.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import termios
import time
from pathlib import Path

ALLOW_ALL = {"default": "allow", "opaque": "allow", "shell": "allow", "redirect": "allow"}

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BASTION_BUILD") or (REPO / "build")).resolve()
BASTION_BIN = BUILD / "bastion"
SESSION_BIN = BUILD / "bastion-session"
CTL_BIN = BUILD / "bastionctl"
HOOKS_BIN = BUILD / "tests" / "bastion-session-hooks"
# Monitors run under a wrapper (make valgrind): process titles and
# LD_PRELOAD stand-ins do not survive it; the few tests that need them skip.
WRAPPED = bool(os.environ.get("BASTION_WRAPPER"))
SLOWDNS_LIB = BUILD / "tests" / "slowdns.so"   # LD_PRELOAD: a slow DNS
SSHD_BIN = "/usr/sbin/sshd"

# Exit statuses the bastion gives the agent (see the spec).
EX_UNKNOWN_TARGET = 68
EX_UNREACHABLE = 69
EX_UPSTREAM_AUTH = 76      # host key mismatch and upstream auth failure
EX_NOT_PERMITTED = 77

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)


# --------------------------------------------------------------------------
# small utilities

def free_port():
    """A loopback TCP port that was free a moment ago (bind 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value; returns it or raises."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def keygen(path, comment=None):
    """ed25519 key pair without passphrase; returns the public key line."""
    path = Path(path)
    for p in (path, Path(str(path) + ".pub")):
        if p.exists():
            p.unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                    comment or path.name, "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text().strip()


def pubkey(path):
    return Path(str(path) + ".pub").read_text().strip()


def proc_children_map():
    """{ppid: [pid, ...]} for every process visible in /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces and parens: ppid is after the last ')'
        rest = stat[stat.rindex(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def descendants(pid):
    kids = proc_children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2:].split()[0]
    return state != "Z"


def kill_quietly(pid, sig=signal.SIGKILL):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Sends sig to a Popen, waits, SIGKILLs after timeout. Returns rc."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return None


def sanitizer_errors(text):
    return [ln for ln in text.splitlines()
            if any(p in ln for p in SANITIZER_PATTERNS)]


# --------------------------------------------------------------------------
# the world: temp dir, keys, ssh client config

class World:
    def __init__(self, root):
        self.root = Path(root)
        self.keydir = self.root / "keys"
        self.keydir.mkdir(parents=True)
        k = self.keydir
        self.agent_key = k / "agent_ed25519"
        self.outsider_key = k / "outsider_ed25519"
        self.unknown_key = k / "unknown_ed25519"
        self.bastion_host_key = k / "bastion_host_ed25519"
        self.upstream_key = k / "upstream_ed25519"
        self.wrong_upstream_key = k / "wrong_upstream_ed25519"   # not authorized anywhere
        self.target_host_key = k / "target_host_ed25519"
        self.other_host_key = k / "other_host_ed25519"           # pinned wrongly
        for p in (self.agent_key, self.outsider_key, self.unknown_key,
                  self.bastion_host_key, self.upstream_key,
                  self.wrong_upstream_key, self.target_host_key,
                  self.other_host_key):
            keygen(p, comment=p.name)
        self.ssh_config = self.root / "ssh_config"
        self.ssh_config.write_text(
            "Host *\n"
            "  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  BatchMode yes\n"
            "  IdentitiesOnly yes\n"
            "  IdentityAgent none\n"
            "  LogLevel ERROR\n"
            "  ConnectTimeout 15\n"
            "  PasswordAuthentication no\n"
            "  KbdInteractiveAuthentication no\n"
            "  GSSAPIAuthentication no\n"
            "  Compression no\n"
            "  ForwardAgent no\n"
            "  ForwardX11 no\n"
            "  ControlMaster no\n"
            "  ControlPath none\n"
            "  EscapeChar none\n")
        # The bastions under test run from private copies of the binaries:
        # a `pkill -f build/bastion` by someone working on the same machine
        # must not take the suite's monitors down.
        self.bindir = self.root / "bin"
        self.bindir.mkdir()
        for b in (BASTION_BIN, SESSION_BIN):
            shutil.copy2(b, self.bindir / b.name)
        self.bastion_bin = self.bindir / BASTION_BIN.name
        # The worker built with test hooks (sandbox probes): only the
        # sandbox tests point session_binary at it.
        self.hooks_bin = None
        if HOOKS_BIN.exists():
            self.hooks_bin = self.bindir / HOOKS_BIN.name
            shutil.copy2(HOOKS_BIN, self.hooks_bin)
        # Workers chroot to an empty folder of this run, not /run/bastion.
        self.empty = self.root / "empty"
        self.sshds = []
        self.bastions = []
        self._seq = 0

    def unique(self, prefix):
        self._seq += 1
        return f"{prefix}{self._seq}"

    def ssh_base(self, port, key=None):
        return ["ssh", "-F", str(self.ssh_config), "-p", str(port),
                "-i", str(key or self.agent_key)]

    def direct_ssh(self, sshd, command, opts=(), input=None, timeout=60,
                   user="root"):
        """ssh straight to a target sshd with the upstream key (reference)."""
        cmd = self.ssh_base(sshd.port, self.upstream_key) + list(opts) + \
            [f"{user}@127.0.0.1", command]
        return subprocess.run(cmd, input=input, capture_output=True,
                              timeout=timeout)

    def start_sshd(self, name=None, authorized=None, host_key=None, port=None,
                   extra=""):
        s = Sshd(self, name or self.unique("sshd"),
                 host_key or self.target_host_key,
                 authorized if authorized is not None else [pubkey(self.upstream_key)],
                 port=port, extra=extra)
        s.start()
        self.sshds.append(s)
        return s

    def target(self, name="web1", sshd=None, **over):
        """One target entry of the bastion config, pointing at sshd."""
        sshd = sshd or self.sshds[0]
        t = {"name": name, "host": "127.0.0.1", "port": sshd.port,
             "user": "root", "users": ["root"],
             "host_key": sshd.host_pubkey(),
             "key": "upstream_ed25519", "allow": ["agents"]}
        t.update(over)
        return t

    def identities(self):
        return [
            {"name": "agent-ci", "owner": "alice", "groups": ["agents"],
             "keys": [pubkey(self.agent_key)]},
            {"name": "outsider", "owner": "carol", "groups": ["others"],
             "keys": [pubkey(self.outsider_key)]},
        ]

    def config(self, port, targets=None, **over):
        c = {
            "listen": f"127.0.0.1:{port}",
            "host_key": "bastion_host_ed25519",
            "database": "bastion.db",
            "control_socket": "bastion.sock",
            "keepalive_interval": 30,
            "env_allow": ["BASTION_TEST_VAR"],
            "identities": self.identities(),
            "targets": targets if targets is not None else [self.target()],
            "approvers": [],
            "sandbox": {"chroot": str(self.empty)},
            # The relay tests exercise SSH, not policy: allow everything.
            # Policy and approvals have their own tests and configs.
            "policy": ALLOW_ALL,
        }
        c.update(over)
        return c

    def new_bastion(self, name=None, config=None, start=True, **config_over):
        name = name or self.unique("bastion")
        b = Bastion(self, name, config, **config_over)
        self.bastions.append(b)
        if start:
            b.start()
        return b

    def cleanup(self):
        problems = []
        for b in self.bastions:
            problems += b.stop_and_check()
        for s in self.sshds:
            s.stop()
        return problems


# --------------------------------------------------------------------------
# a real OpenSSH server as the target

class Sshd:
    def __init__(self, world, name, host_key, authorized, port=None, extra=""):
        self.world = world
        self.name = name
        self.dir = world.root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host_key = Path(host_key)
        self.port = port or free_port()
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text("".join(a + "\n" for a in authorized))
        self.conf = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.pidfile = self.dir / "sshd.pid"
        self.extra = extra
        self.proc = None

    def host_pubkey(self):
        """'ssh-ed25519 AAAA...' without the comment, as pinned in the config."""
        return " ".join(pubkey(self.host_key).split()[:2])

    def write_config(self):
        self.conf.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {self.pidfile}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "AcceptEnv LANG LC_* BASTION_TEST_VAR EVIL\n"
            "Subsystem sftp internal-sftp\n"
            "AllowTcpForwarding yes\n"
            "PrintMotd no\n"
            "PrintLastLog no\n"
            "MaxStartups 100:30:200\n"
            "MaxSessions 50\n"
            "LogLevel VERBOSE\n" + self.extra)

    def start(self, timeout=10):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.write_config()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([SSHD_BIN, "-D", "-e", "-f", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf)
        logf.close()

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd {self.name} exited {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                    s.settimeout(2)
                    return s.recv(64).startswith(b"SSH-2.0-")
            except OSError:
                return False
        wait_until(ready, timeout, what=f"sshd {self.name} on port {self.port}")
        return self

    def session_pids(self):
        """Per-connection processes (and their children) of this sshd."""
        return descendants(self.proc.pid) if self.proc else []

    def kill_sessions(self):
        for p in self.session_pids():
            kill_quietly(p)

    def stop(self):
        if not self.proc:
            return
        pids = self.session_pids()
        stop_process(self.proc, signal.SIGTERM, 5)
        for p in pids:
            kill_quietly(p)
        self.proc = None


# --------------------------------------------------------------------------
# the bastion under test

class Bastion:
    LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

    def __init__(self, world, name, config=None, **config_over):
        self.world = world
        self.name = name
        self.dir = world.root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        # Key files beside the config, referred to by relative names: this
        # also exercises "relative paths resolve against the config folder".
        for src, dst in ((world.bastion_host_key, "bastion_host_ed25519"),
                         (world.upstream_key, "upstream_ed25519"),
                         (world.wrong_upstream_key, "wrong_upstream_ed25519")):
            shutil.copy(src, self.dir / dst)
            os.chmod(self.dir / dst, 0o600)
        self.port = free_port()
        self.config = config or world.config(self.port, **config_over)
        self.config_path = self.dir / "bastion.json"
        self.write_config()
        self.log = self.dir / "bastion.log"
        self.proc = None
        self.checked_offset = 0
        self.extra_env = {}     # for the bastion process (LD_PRELOAD in tests)

    # -- lifecycle --------------------------------------------------------
    def write_config(self):
        self.config_path.write_text(json.dumps(self.config, indent=2) + "\n")

    @property
    def db_path(self):
        return self.dir / self.config.get("database", "bastion.db")

    def start(self, timeout=15, extra_args=()):
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("already running")
        start_off = self.log.stat().st_size if self.log.exists() else 0
        args = [str(self.world.bastion_bin), "-f", str(self.config_path)]
        # e.g. BASTION_WRAPPER="valgrind -q ..." (make valgrind): the
        # monitor and the helpers it forks run under it; workers are
        # exec'd and run as they are
        wrapper = shlex.split(os.environ.get("BASTION_WRAPPER", ""))
        if wrapper:
            args = wrapper + args
            timeout *= 4
        if os.environ.get("BASTION_DEBUG"):
            args.append("-d")
        args += list(extra_args)
        logf = open(self.log, "ab")
        env = dict(os.environ, **self.extra_env)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, cwd="/", env=env)
        logf.close()

        def ready():
            text = self.log_text(start_off)
            m = self.LISTEN_RE.search(text)
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"bastion {self.name} exited with {self.proc.returncode} "
                    f"before listening:\n{text}")
            return None
        port = wait_until(ready, timeout, what=f"bastion {self.name} 'listening on'")
        assert port == self.port, f"listening on {port}, configured {self.port}"
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the monitor; returns its exit status (None if it had to be killed)."""
        if not self.proc:
            return None
        rc = stop_process(self.proc, sig, timeout)
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait(5)

    def child_pids(self):
        """Every descendant of the monitor (workers, helpers, their children)."""
        return descendants(self.proc.pid) if self.running() else []

    def worker_pids(self):
        """The bastion-session worker processes under the monitor."""
        out = []
        for p in self.child_pids():
            try:
                exe = os.readlink(f"/proc/{p}/exe")
            except OSError:
                continue
            if os.path.basename(exe).startswith("bastion-session"):
                out.append(p)
        return out

    def stop_and_check(self):
        problems = []
        if self.running():
            workers = self.child_pids()
            rc = self.stop()
            for p in workers:
                kill_quietly(p)
            if rc != 0:
                problems.append(f"bastion {self.name}: SIGTERM exit status {rc} (expected 0)")
        errs = sanitizer_errors(self.log_text())
        if errs:
            problems.append(f"bastion {self.name}: sanitizer reports in {self.log}:\n  "
                            + "\n  ".join(errs[:20]))
        return problems

    def log_text(self, offset=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    # -- running ssh through it --------------------------------------------
    def ssh_base(self, key=None):
        return self.world.ssh_base(self.port, key)

    def ssh(self, args, input=None, timeout=60, key=None, check=False):
        """ssh -F cfg -p PORT -i agent_key ARGS...; returns CompletedProcess (bytes)."""
        cmd = self.ssh_base(key) + [str(a) for a in args]
        return subprocess.run(cmd, input=input, capture_output=True,
                              timeout=timeout, check=check)

    def run(self, command, login="web1", opts=(), input=None, timeout=60,
            key=None):
        """Runs one command through the bastion as LOGIN@127.0.0.1."""
        args = list(opts) + [f"{login}@127.0.0.1"]
        if command is not None:
            args.append(command)
        return self.ssh(args, input=input, timeout=timeout, key=key)

    def popen(self, command, login="web1", opts=(), key=None, **kw):
        args = self.ssh_base(key) + list(opts) + [f"{login}@127.0.0.1"]
        if command is not None:
            args.append(command)
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(args, **kw)

    def assert_serving(self):
        r = self.run("echo still-serving")
        assert r.returncode == 0 and r.stdout == b"still-serving\n", (
            f"bastion {self.name} no longer serves: rc={r.returncode} "
            f"out={r.stdout!r} err={r.stderr!r}\nlog tail:\n{self.log_text()[-3000:]}")

    # -- bastionctl -------------------------------------------------------
    def ctl(self, *args, timeout=60, input=None, config_first=True):
        if config_first:
            cmd = [str(CTL_BIN), "-c", str(self.config_path)] + [str(a) for a in args]
        else:
            cmd = [str(CTL_BIN)] + [str(a) for a in args] + ["-c", str(self.config_path)]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input)
        errs = sanitizer_errors(r.stderr.decode(errors="replace"))
        assert not errs, f"sanitizer report from {' '.join(cmd)}:\n" + "\n".join(errs)
        return r

    def ctl_json(self, *args, **kw):
        r = self.ctl(*args, **kw)
        assert r.returncode == 0, (
            f"bastionctl {' '.join(map(str, args))}: rc={r.returncode} "
            f"stderr={r.stderr.decode(errors='replace')}")
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError(f"bastionctl {' '.join(map(str, args))} printed "
                                 f"invalid JSON ({e}): {r.stdout[:2000]!r}")

    def sessions(self):
        s = self.ctl_json("sessions", "--json")
        assert isinstance(s, list), f"sessions --json is not an array: {s!r}"
        return s

    def show(self, sid):
        s = self.ctl_json("show", sid, "--json")
        assert isinstance(s, dict), f"show --json is not an object: {s!r}"
        return s

    # -- the database directly (read-only) ----------------------------------
    def db(self):
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                               timeout=10)

    def last_session_id(self):
        if not self.db_path.exists():
            return 0
        with contextlib.closing(self.db()) as c:
            try:
                return c.execute("SELECT coalesce(max(id), 0) FROM sessions").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    def wait_sessions(self, after_id, count=1, timeout=15, ended=True):
        """Waits until exactly `count` sessions with id > after_id are listed by
        `sessions --json` (and, if ended, all have an end_reason); returns them
        sorted by id."""
        last = []

        def pred():
            nonlocal last
            last = sorted((s for s in self.sessions() if s.get("id", 0) > after_id),
                          key=lambda s: s["id"])
            if len(last) < count:
                return None
            if ended and not all(s.get("end_reason") for s in last):
                return None
            return last
        try:
            got = wait_until(pred, timeout, interval=0.1,
                             what=f"{count} new session(s) after id {after_id}")
        except TimeoutError:
            raise AssertionError(
                f"expected {count} new ended session(s) after id {after_id}, "
                f"sessions --json shows {last!r}\nlog tail:\n{self.log_text()[-3000:]}")
        assert len(got) == count, f"expected {count} new sessions, got {got!r}"
        return got

    def wait_session(self, after_id, timeout=15, ended=True):
        return self.wait_sessions(after_id, 1, timeout, ended)[0]

    def events(self, sid, kinds=None, channel=None):
        q = "SELECT seq, channel, kind, data FROM events WHERE session_id=?"
        a = [sid]
        if kinds:
            q += " AND kind IN (%s)" % ",".join("?" * len(kinds))
            a += list(kinds)
        if channel is not None:
            q += " AND channel=?"
            a.append(channel)
        q += " ORDER BY seq"
        with contextlib.closing(self.db()) as c:
            return c.execute(q, a).fetchall()

    def event_bytes(self, sid, kind, channel=None):
        return b"".join(bytes(r[3] or b"") for r in self.events(sid, [kind], channel))

    def event_stats(self, sid, kind):
        """(total bytes, sha256 hex) of the concatenated data of kind, streamed."""
        h = hashlib.sha256()
        n = 0
        with contextlib.closing(self.db()) as c:
            for (d,) in c.execute("SELECT data FROM events WHERE session_id=? AND kind=? "
                                  "ORDER BY seq", (sid, kind)):
                d = bytes(d or b"")
                n += len(d)
                h.update(d)
        return n, h.hexdigest()


# --------------------------------------------------------------------------
# pty driver

def set_winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class PtyRun:
    """Runs argv with a fresh pty as its controlling terminal.

    steps: list of (wait_for, send): waits until wait_for (bytes; b"" = any
    output) appears in the output read so far (after the previous match),
    then writes send (bytes) or calls it if callable (with self).
    """

    def __init__(self, argv, winsize=(24, 80), env=None):
        self.master, slave = os.openpty()
        set_winsize(slave, *winsize)
        self.pid = os.fork()
        if self.pid == 0:  # child
            try:
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.closerange(3, 4096)
                if env is not None:
                    os.execvpe(argv[0], argv, env)
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        os.close(slave)
        self.out = bytearray()
        self.status = None

    def read_some(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            d = os.read(self.master, 65536)
        except OSError:   # EIO: slave closed, child gone
            d = None
        if not d:
            return None
        self.out += d
        return d

    def expect(self, needle, timeout=20, start=0):
        """Waits for needle in output[start:]; returns index after the match."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.out.find(needle, start)
            if i >= 0 and (needle or len(self.out) > start):
                return i + len(needle)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"pty: {needle!r} not seen; output so far: "
                                   f"{bytes(self.out)!r}")
            if self.read_some(min(left, 0.5)) is None:
                raise EOFError(f"pty: EOF before {needle!r}; output: {bytes(self.out)!r}")

    def send(self, data):
        os.write(self.master, data)

    def resize(self, rows, cols):
        set_winsize(self.master, rows, cols)

    def wait(self, timeout=20):
        """Reads until EOF and the child exits; returns its exit code."""
        deadline = time.monotonic() + timeout
        eof = False
        while True:
            if not eof:
                if self.read_some(0.2) is None:
                    eof = True
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                # drain what is left
                while not eof and self.read_some(0.05) not in (None, b""):
                    pass
                self.status = os.waitstatus_to_exitcode(st)
                os.close(self.master)
                return self.status
            if time.monotonic() > deadline:
                kill_quietly(self.pid)
                os.waitpid(self.pid, 0)
                os.close(self.master)
                raise TimeoutError(f"pty child did not exit; output: {bytes(self.out)!r}")
            if eof:
                time.sleep(0.05)

    def kill(self):
        if self.status is None:
            kill_quietly(self.pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.status = -9
