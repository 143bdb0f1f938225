#!/usr/bin/python3
"""
slack_bench.py: approval latency through Slack, on loopback (a benchmark,
not a test: it prints numbers and asserts nothing).

Starts a real target sshd, a bastion with its HTTP listener and Slack
pointed at the fake Slack Web API of tests/integration/fakeslack.py, then
N times: runs a held command through the bastion, and measures

  held -> posted   from the request's creation (created_us, recorded by
                   the monitor) to the chat.postMessage reaching the fake
                   Slack (its arrival time);
  click answered   from just before the click is sent to its HTTP answer
                   (the vote is committed and the worker told by then);
  click -> exec    from just before the signed Approve click is sent to
                   the target's sshd logging the exec request it received
                   (LogLevel DEBUG1, "req exec"; the log is followed by a
                   thread here): the bastion's whole part of starting the
                   command;
  click -> start   from the click to the command itself running on the
                   target (the command is `date +%s.%N`: its own clock
                   reading when it ran); this adds the target user's shell
                   start-up (~/.bashrc), the same as without a bastion.

Same machine, same clock.  Goals (issue 5): p99 <= 5 ms and <= 10 ms.

  make slack-bench [SLACK_BENCH_N=100]     (as root, like the tests)
"""

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import helpers  # noqa: E402
from fakeslack import FakeSlack, block_actions, slack_click  # noqa: E402

SECRET = "bench-signing-secret"


def pct(v, p):
    v = sorted(v)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def report(name, ms):
    print(f"{name:16s} n={len(ms):4d}  p50 {pct(ms, 50):7.2f} ms  "
          f"p90 {pct(ms, 90):7.2f} ms  p99 {pct(ms, 99):7.2f} ms  "
          f"max {max(ms):7.2f} ms  mean {statistics.mean(ms):7.2f} ms")


class LogFollower(threading.Thread):
    """Timestamps the target sshd's "req exec" log lines as they appear."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.times = []
        self.stop = False

    def run(self):
        buf = b""
        while not self.stop:
            d = self.f.read()
            if not d:
                time.sleep(0.0002)
                continue
            now = time.time()
            buf += d
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                if b" req exec" in ln:
                    self.times.append(now)

    def first_after(self, t, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            for x in list(self.times):
                if x >= t:
                    return x
            time.sleep(0.001)
        return None


def debug_sshd(world):
    """The target sshd again, logging at DEBUG1 (exec requests)."""
    s = world.sshds[0]
    s.stop()
    plain = s.write_config

    def write_config():
        plain()
        s.conf.write_text(s.conf.read_text().replace("LogLevel VERBOSE",
                                                      "LogLevel DEBUG1"))
    s.write_config = write_config
    s.start()
    return s


def baseline(world, n):
    """Exec-to-start on the target itself, over an open connection."""
    sshd = world.sshds[0]
    sock = str(Path(world.root) / "mux")
    base = world.ssh_base(sshd.port, world.upstream_key)
    base = [a for a in base]
    master = subprocess.Popen(base + ["-o", "ControlMaster=yes", "-o", f"ControlPath={sock}",
                                      "-N", "root@127.0.0.1"])
    try:
        helpers.wait_until(lambda: os.path.exists(sock), 15, what="mux socket")
        out = []
        for _ in range(n):
            t0 = time.time()
            r = subprocess.run(base + ["-o", "ControlMaster=no", "-o", f"ControlPath={sock}",
                                       "root@127.0.0.1", "date +%s.%N"],
                               capture_output=True, timeout=30)
            if r.returncode == 0:
                out.append((float(r.stdout.decode().strip()) - t0) * 1000)
        return out
    finally:
        master.terminate()
        master.wait(10)


def main():
    n = int(os.environ.get("SLACK_BENCH_N", "100"))
    root = tempfile.mkdtemp(prefix="bastion-slack-bench-")
    world = helpers.World(root)
    slack = FakeSlack(channel="C0BENCH")
    try:
        world.start_sshd("target")
        follower = LogFollower(debug_sshd(world).log)
        follower.start()
        hport = helpers.free_port()
        approvers = [{"name": "bob", "groups": ["oncall"], "slack_user": "U0BOB"}]
        policy = {"default": "deny", "rules": [
            {"name": "bench", "match": {"commands": ["date"]}, "action": "approve",
             "approvers": "oncall", "count": 1, "timeout": 60}]}
        b = world.new_bastion(
            "bench", approvers=approvers, policy=policy,
            http={"listen": f"127.0.0.1:{hport}"},
            slack={"api_url": slack.api_url, "bot_token": slack.token,
                   "signing_secret": SECRET, "channel": slack.channel})
        db = sqlite3.connect(f"file:{b.db_path}?mode=ro", uri=True, timeout=10)
        held_ms, click_ms, answer_ms, exec_ms = [], [], [], []
        for i in range(n):
            cmd = f"date +%s.%N # {i}"
            p = b.popen(cmd)
            msg = slack.wait(lambda: next((m for m in slack.posts
                                           if f"# {i}" in json.dumps(m["body"])), None),
                             30, "postMessage")
            rid = int(msg["body"]["blocks"][-1]["elements"][0]["value"])
            created_us = db.execute("SELECT created_us FROM approval_requests WHERE id=?",
                                    (rid,)).fetchone()[0]
            held_ms.append((msg["time"] - created_us / 1e6) * 1000)
            payload = block_actions("U0BOB", "approve", rid, channel="C0BENCH",
                                    message_ts=msg["ts"])
            t_click = time.time()
            st, _ = slack_click(hport, SECRET, payload)
            answer_ms.append((time.time() - t_click) * 1000)
            out, err = p.communicate(timeout=30)
            if st != 200 or p.returncode != 0:
                print(f"round {i}: click {st}, ssh {p.returncode}: {err!r}")
                continue
            click_ms.append((float(out.decode().strip()) - t_click) * 1000)
            t_exec = follower.first_after(t_click)
            if t_exec is not None:
                exec_ms.append((t_exec - t_click) * 1000)
        base_ms = baseline(world, n)
        print(f"loopback, {os.cpu_count()} CPUs, {n} held commands, fake Slack in-process")
        report("held -> posted", held_ms)
        report("click answered", answer_ms)
        report("click -> exec", exec_ms)
        report("click -> start", click_ms)
        report("target baseline", base_ms)
        print("(target baseline: the same command run by the target over an open "
              "OpenSSH ControlMaster connection, no bastion; it includes the "
              "target user's shell startup, e.g. ~/.bashrc, which bash reads "
              "for ssh commands)")
        db.close()
        follower.stop = True
    finally:
        problems = world.cleanup()
        slack.stop()
        if os.environ.get("SLACK_BENCH_KEEP"):
            print("kept", root)
        else:
            shutil.rmtree(root, ignore_errors=True)
        for pr in problems:
            print(pr)


if __name__ == "__main__":
    main()
