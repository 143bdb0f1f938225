"""Shells judged line by line (issue 6): pty shells through a real `ssh -tt`
driven by a pty, piped scripts, `bash -s`, approvals, and the record."""

import json
import os
import re
import subprocess
import time

import pytest

import helpers
from helpers import PtyRun
from test_approvals import APPROVERS, BOB, vote, wait_pending

POLICY = {
    "default": "approve",
    "opaque": "approve",
    "shell": "allow",
    "redirect": "approve",
    "timeout": 60,
    "rules": [
        {"name": "read-only", "match": {"commands": [
            "ls", "cat", "echo", "printf", "true", "sleep", "stty", "exit", "pwd",
            "history", "less", "python3", "seq", "test", "["]}, "action": "allow"},
        {"name": "no-rm", "match": {"commands": ["rm", "mkfs", "mkfs.*"]}, "action": "deny"},
        {"name": "touchy", "match": {"commands": ["touch"]},
         "action": "approve", "approvers": "oncall", "count": 1, "timeout": 60},
        {"name": "quick", "match": {"commands": ["date"]},
         "action": "approve", "approvers": "oncall", "timeout": 2},
        {"name": "tmp", "match": {"writes": ["/tmp/*"]}, "action": "allow"},
    ],
}

PROMPT = b"\x1b]133;A;"


@pytest.fixture(scope="module")
def lb(world):
    """A bastion whose policy opens shells and judges their lines."""
    return world.new_bastion("lines", approvers=APPROVERS, policy=POLICY)


@pytest.fixture
def marker(tmp_path):
    """A file that a refused line would remove."""
    m = tmp_path / "marker"
    m.write_text("here")
    os.chmod(tmp_path, 0o755)
    return m


class Shell:
    """An interactive `ssh -tt` shell through the bastion."""

    def __init__(self, b, command=None, opts=()):
        argv = b.ssh_base() + ["-tt"] + list(opts) + ["web1@127.0.0.1"]
        if command:
            argv.append(command)
        self.p = PtyRun(argv, winsize=(30, 120))
        self.mark = 0
        if command is None:
            self.mark = self.p.expect(PROMPT, timeout=30)

    def prompt(self, timeout=20):
        """Waits for the next prompt of the integrated shell."""
        self.mark = self.p.expect(PROMPT, start=self.mark, timeout=timeout)
        return self.mark

    def send(self, data):
        self.p.send(data)

    def expect(self, needle, timeout=20):
        i = self.p.expect(needle, start=self.mark, timeout=timeout)
        self.mark = i
        return i

    def since(self, i):
        return bytes(self.p.out[i:])

    def close(self):
        self.p.send(b"exit\r")
        try:
            return self.p.wait(20)
        finally:
            self.p.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.kill()     # whatever happened, no ssh is left behind


def test_allowed_lines_run(lb):
    with Shell(lb) as sh:
        sh.send(b"echo L$((40+2))\r")
        sh.expect(b"L42\r\n")
        sh.prompt()
        sh.send(b"seq 3 | cat\r")
        sh.expect(b"1\r\n2\r\n3\r\n")
        assert b"bastion:" not in bytes(sh.p.out)
        assert sh.close() == 0


def test_denied_line_never_runs_and_the_next_works(lb, marker):
    with Shell(lb) as sh:
        start = sh.mark
        sh.send(b"rm -f " + str(marker).encode() + b"\r")
        sh.expect(b"bastion: denied by policy")
        sh.expect(b"the line was not run")
        sh.prompt()
        assert marker.exists()
        sh.send(b"echo NEXT$((2+2))\r")
        sh.expect(b"NEXT4\r\n")
        assert b"NEXT4" not in sh.since(start)[:sh.since(start).find(b"denied")]
        assert sh.close() == 0
    assert marker.exists()


def test_held_line_runs_only_after_approval(lb, tmp_path):
    made = tmp_path / "made"
    os.chmod(tmp_path, 0o755)
    with Shell(lb) as sh:
        cmd = f"touch {made}"
        sh.send(cmd.encode() + b"\r")
        req = wait_pending(lb, cmd)
        assert req["analysis"]["kind"] == "line", req   # approvers see it
        sh.expect(f"held for approval: request {req['id']}".encode())
        time.sleep(1.0)
        assert not made.exists(), "a held line ran before its approval"
        r = vote(lb, req["id"], "approve", BOB, "fine")
        assert r.returncode == 0, r
        helpers.wait_until(made.exists, 15, what="the approved line ran")
        sh.prompt()
        sh.send(b"echo AFTER\r")
        sh.expect(b"AFTER\r\n")
        assert sh.close() == 0


def test_line_editing_backspace_and_ctrl_u(lb, marker):
    with Shell(lb) as sh:
        # typed rm, erased with ^U: the echo is what runs
        sh.send(b"rm -f " + str(marker).encode() + b"\x15echo UE$((1+1))\r")
        sh.expect(b"UE2\r\n")
        sh.prompt()
        # "ls" erased with two DELs, then rm typed: denied
        sh.send(b"ls\x7f\x7frm -f " + str(marker).encode() + b"\r")
        sh.expect(b"bastion: denied by policy")
        sh.prompt()
        # ^W erases the last word
        sh.send(b"echo keep rm\x17W$((3*3))\r")
        sh.expect(b"keep W9\r\n")
        sh.prompt()
        assert sh.close() == 0
    assert marker.exists()


def test_bracketed_paste_is_judged(lb, marker):
    # a terminal wraps pasted text in ESC[200~ ... ESC[201~; bash inserts it
    # literally.  A pasted allowed command runs; a pasted forbidden one,
    # even with a newline inside the paste, never does.
    with Shell(lb) as sh:
        sh.send(b"\x1b[200~echo PASTED$((5+5))\x1b[201~\r")
        sh.expect(b"PASTED10\r\n")
        sh.prompt()
        sh.send(b"\x1b[200~rm -f " + str(marker).encode() + b"\n\x1b[201~")
        time.sleep(0.5)
        assert marker.exists(), "a pasted line ran without its Enter being judged"
        sh.send(b"\r")
        sh.expect(b"bastion: denied by policy")
        sh.prompt()
        sh.send(b"echo AFTERPASTE\r")
        sh.expect(b"AFTERPASTE\r\n")
        assert sh.close() == 0
    assert marker.exists()


def approve_line(b, sh, cmd):
    """Types cmd, approves its held request, waits for the prompt."""
    sh.send(cmd.encode() + b"\r")
    req = wait_pending(b, cmd)
    assert vote(b, req["id"], "approve", BOB, "test setup").returncode == 0
    sh.prompt()


def test_vi_mode_edit_and_execute_is_disarmed(lb, tmp_path):
    # vi mode's "v" edits the line in $VISUAL and runs the result without
    # any Enter: the integration rebinds it, so the editor never runs it
    made = tmp_path / "made-by-editor"
    ed = tmp_path / "ed.sh"
    ed.write_text(f'#!/bin/sh\necho "touch {made}" > "$1"\n')
    os.chmod(ed, 0o755)
    os.chmod(tmp_path, 0o755)
    with Shell(lb) as sh:
        approve_line(lb, sh, f"VISUAL={ed}")
        approve_line(lb, sh, "set -o vi")
        sh.send(b"echo VISAFE\x1bv")
        time.sleep(1.5)
        assert not made.exists(), "vi-edit-and-execute-command ran the editor's line"
        sh.send(b"\r")
        sh.expect(b"VISAFE\r\n")
        sh.prompt()
        assert sh.close() == 0
    assert not made.exists()


def test_history_recall_of_a_forbidden_command_is_judged(lb, marker):
    with Shell(lb) as sh:
        cmd = b"rm -f " + str(marker).encode()
        sh.send(b"history -s '" + cmd + b"'\r")   # in history, never run
        sh.prompt()
        sh.send(b"\x1b[A")                       # up arrow: recall it
        time.sleep(0.3)
        sh.send(b"\r")
        sh.expect(b"bastion: denied by policy")
        sh.prompt()
        sh.send(b"echo STILL\r")
        sh.expect(b"STILL\r\n")
        assert sh.close() == 0
    assert marker.exists()


def test_multi_line_construct_is_judged_as_one(lb, marker):
    with Shell(lb) as sh:
        sh.send(b"for i in 1 2; do\r")
        time.sleep(0.3)
        sh.send(b"echo IT$i\r")
        time.sleep(0.3)
        sh.send(b"done\r")
        sh.expect(b"IT2\r\n")
        sh.prompt()
        # an allowed loop with a forbidden command inside: nothing of it runs
        sh.send(b"for i in 1; do\r")
        time.sleep(0.3)
        sh.send(b"echo NO$i; rm -f " + str(marker).encode() + b"\r")
        time.sleep(0.3)
        sh.send(b"done\r")
        sh.expect(b"bastion: denied by policy")
        sh.prompt()
        assert b"NO1" not in sh.since(0)
        assert sh.close() == 0
    assert marker.exists()


def test_repl_and_full_screen_input_is_not_judged(lb):
    with Shell(lb) as sh:
        sh.send(b"/usr/bin/python3 -q\r")
        sh.expect(b">>> ")
        # shell-wise "rm = 6" would be a denied rm; here it is Python
        sh.send(b"rm = 6\r")
        sh.expect(b">>> ")
        sh.send(b"print('PY', rm * 7)\r")
        sh.expect(b"PY 42")
        sh.send(b"exit()\r")
        sh.prompt()
        sh.send(b"seq 1 200 | less\r")
        sh.expect(b"\x1b[?1049h", timeout=20)   # less took the screen
        sh.send(b"/rm -rf\r")                    # a search, not a command
        time.sleep(0.5)
        sh.send(b"q")
        sh.prompt()
        sh.send(b"echo BACK\r")
        sh.expect(b"BACK\r\n")
        out = bytes(sh.p.out)
        assert b"bastion:" not in out, out
        assert sh.close() == 0


def test_shell_without_integration_judges_from_keys(lb, marker):
    # exec of bash with a pty: no integration, every line judged by the tracker
    with Shell(lb, command="bash --norc --noprofile") as sh:
        sh.p.expect(b"# ", timeout=20)      # root's prompt, no marks
        time.sleep(0.3)
        sh.send(b"echo K$((5+5))\r")
        sh.expect(b"K10\r\n")
        sh.send(b"rm -f " + str(marker).encode() + b"\r")
        sh.expect(b"bastion: denied by policy")
        time.sleep(0.5)
        sh.send(b"\x1b[A\r")                    # history: not followed -> opaque
        sh.expect(b"held for approval")
        assert PROMPT not in bytes(sh.p.out)
    assert marker.exists()


def test_forged_prompt_mark_makes_the_line_time_out_not_run(lb, marker):
    # the agent can learn the nonce (echo $__bst_n) and print a prompt mark
    # while `cat` reads the terminal: the bastion then asks for a line
    # report nobody gives.  After 5 s the line is not run, the agent is
    # told, and the shell is usable again once cat ends.
    with Shell(lb) as sh:
        sh.send(b"echo N=$__bst_n=\r")
        i = sh.expect(b"N=")
        sh.prompt()
        nonce = re.search(rb"N=([0-9a-f]+)=", sh.since(i - 2)).group(1)
        sh.send(b"printf '\\033]133;A;" + nonce + b"\\007'; cat\r")
        time.sleep(1.0)
        sh.send(b"rm -f " + str(marker).encode() + b"\r")
        sh.expect(b"did not report its line in time; it was not run", timeout=15)
        sh.send(b"\x04")                        # ^D: cat reads the held text
        time.sleep(0.3)
        sh.send(b"\x04")                        # ^D: cat ends
        sh.prompt()
        sh.send(b"echo BACK\r")
        sh.expect(b"BACK\r\n")
        assert sh.close() == 0
    assert marker.exists()


def test_pty_line_not_waiting_then_rerun_after_approval(lb, tmp_path):
    # BASTION_WAIT=0 in a pty shell: a held line is not run, the agent is
    # told to re-run it once approved; the re-typed line then runs, once.
    made = tmp_path / "deferred"
    os.chmod(tmp_path, 0o755)
    with Shell(lb, opts=["-o", "SetEnv=BASTION_WAIT=0"]) as sh:
        cmd = f"touch {made}"
        sh.send(cmd.encode() + b"\r")
        sh.expect(b"re-run")
        sh.prompt()
        assert not made.exists()
        req = wait_pending(lb, cmd)
        assert vote(lb, req["id"], "approve", BOB, "ok").returncode == 0
        sh.send(cmd.encode() + b"\r")
        helpers.wait_until(made.exists, 15, what="the re-run line ran")
        sh.prompt()
        made.unlink()
        sh.send(cmd.encode() + b"\r")            # the approval was used
        sh.expect(b"re-run")
        sh.prompt()
        assert not made.exists()
        assert sh.close() == 0


def test_keys_only_incomplete_line_is_judged_too(lb, marker):
    # without integration the bastion cannot know that the shell waits for
    # more: an "incomplete" line's Enter is judged (opaque) as well, so a
    # line the parser and the shell disagree about never runs unjudged.
    with Shell(lb, command="bash --norc --noprofile") as sh:
        sh.p.expect(b"# ", timeout=20)
        time.sleep(0.3)
        sh.send(b"for i in 1 2; do\r")
        req = wait_pending(lb, "for i in 1 2; do")
        sh.expect(f"held for approval: request {req['id']}".encode())
        r = vote(lb, req["id"], "approve", BOB, "a loop")
        assert r.returncode == 0, r
        sh.expect(b"> ")                        # bash continues the loop
        sh.send(b"echo LOOP$i; done\r")         # the whole loop is judged
        sh.expect(b"LOOP1\r\nLOOP2\r\n")
        sh.send(b"for f in x; do\r")
        req = wait_pending(lb, "for f in x; do")
        r = vote(lb, req["id"], "approve", BOB, "another loop")
        assert r.returncode == 0, r
        sh.expect(b"> ")
        sh.send(b"rm -f " + str(marker).encode() + b"; done\r")
        sh.expect(b"bastion: denied by policy")
    assert marker.exists()


def run_script(b, script, command=None, opts=(), timeout=60):
    args = b.ssh_base() + list(opts) + ["web1@127.0.0.1"]
    if command:
        args.append(command)
    return subprocess.run(args, input=script, capture_output=True, timeout=timeout)


def test_piped_script_stops_at_the_first_refused_line(lb, marker):
    before = lb.last_session_id()
    script = (b"echo one\n"
              b"# a comment\n"
              b"if true; then\n  echo two\nfi\n"
              b"cat <<EOF\nthree\nEOF\n"
              b"rm -f " + str(marker).encode() + b"\n"
              b"echo four\n")
    r = run_script(lb, script)
    assert r.returncode == 77, r
    assert r.stdout == b"one\ntwo\nthree\n", r
    assert b"bastion: denied by policy" in r.stderr, r.stderr
    assert b"nothing after it was sent" in r.stderr
    assert marker.exists()
    s = lb.wait_session(before)
    d = lb.show(s["id"])
    lines = [e["detail"] for e in d["log"] if e["kind"] == "policy"
             and e["detail"]["kind"] == "line"]
    assert [x["decision"]["action"] for x in lines] == ["allow", "allow", "allow", "deny"], lines
    assert lines[1]["command"] == "# a comment\nif true; then\n  echo two\nfi\n"
    assert lines[2]["command"] == "cat <<EOF\nthree\nEOF\n"
    assert d["channels"][0]["exit_status"] == 77, d["channels"]
    # nothing after the refused line reached the target
    assert b"four" not in lb.event_bytes(s["id"], "in")
    rp = lb.ctl("replay", s["id"], "--no-wait")
    assert b"one\ntwo\nthree\n" in rp.stdout and b"denied by policy" in rp.stdout


def test_long_piped_script_flows(lb):
    # Far more than the bastion holds at once (256 KiB) and than libssh
    # buffers (a window): the worker must keep pulling what fits while
    # commands are judged, or the agent's ssh, out of window, stalls.
    body = b"x" * 60000 + b"\n"
    script = b"".join(b"cat <<'EOF'\n" + body + b"EOF\necho done%d\n" % i
                      for i in range(30))
    assert len(script) > 1_700_000
    r = run_script(lb, script, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-500:])
    assert r.stdout.count(body) == 30
    assert r.stdout.endswith(b"done29\n"), r.stdout[-100:]


@pytest.mark.parametrize("command", ["bash -s", "bash", "sh -s -- a b", "exec bash"])
def test_shell_reading_stdin_is_judged_line_by_line(lb, marker, command):
    script = (b"echo S1\n"
              b"for i in a b; do echo S$i; done\n"
              b"mkfs /dev/nonexistent\n"
              b"echo S9\n")
    r = run_script(lb, script, command=command)
    assert r.returncode == 77, r
    assert r.stdout == b"S1\nSa\nSb\n", r
    assert b"rule \"no-rm\"" in r.stderr, r.stderr


def test_script_line_held_then_approved(lb, tmp_path):
    made = tmp_path / "m2"
    os.chmod(tmp_path, 0o755)
    cmd = f"touch {made}\n"
    p = subprocess.Popen(lb.ssh_base() + ["web1@127.0.0.1", "bash -s"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b"echo before\n" + cmd.encode() + b"echo after\n")
    p.stdin.close()
    req = wait_pending(lb, cmd)
    time.sleep(0.5)
    assert not made.exists()
    assert vote(lb, req["id"], "approve", BOB).returncode == 0
    out = p.stdout.read()
    err = p.stderr.read()
    assert p.wait(30) == 0, (out, err)
    assert out == b"before\nafter\n"
    assert made.exists()
    assert f"held for approval: request {req['id']}".encode() in err


def test_script_line_expired(lb):
    r = run_script(lb, b"echo x\ndate\necho y\n", timeout=30)
    assert r.returncode == 75, r
    assert r.stdout == b"x\n"
    assert b"bastion: expired" in r.stderr, r.stderr


def test_script_not_waiting(lb):
    r = run_script(lb, b"echo x\ntouch /tmp/never-made-by-bastion-test\necho y\n",
                   opts=["-o", "SetEnv=BASTION_WAIT=0"], timeout=30)
    assert r.returncode == 75, r
    assert r.stdout == b"x\n"
    assert not os.path.exists("/tmp/never-made-by-bastion-test")


def test_non_shell_interpreter_is_opaque(lb):
    r = run_script(lb, b"print(1)\n", command="/usr/bin/python3 -",
                   opts=["-o", "SetEnv=BASTION_WAIT=0"], timeout=30)
    assert r.returncode == 75, r
    assert b"opaque" in r.stderr, r.stderr


def test_pty_lines_recorded_and_replayed(lb, marker):
    before = lb.last_session_id()
    with Shell(lb) as sh:
        sh.send(b"echo REC1\r")
        sh.expect(b"REC1\r\n")
        sh.prompt()
        sh.send(b"rm -f " + str(marker).encode() + b"\r")
        sh.expect(b"denied by policy")
        sh.prompt()
        assert sh.close() == 0
    s = lb.wait_session(before)
    d = lb.show(s["id"])
    lines = [e["detail"] for e in d["log"] if e["kind"] == "policy"
             and e["detail"]["kind"] == "line"]
    got = [(x["command"], x["decision"]["action"]) for x in lines]
    assert ("echo REC1", "allow") in got, got
    assert ("rm -f " + str(marker), "deny") in got, got
    assert ("exit", "allow") in got, got
    assert d["channels"][0]["type"] == "shell"
    text = lb.ctl("show", s["id"]).stdout
    assert b"rm -f" in text and b"deny" in text
    rp = lb.ctl("replay", s["id"], "--no-wait")
    assert rp.returncode == 0
    assert b"REC1" in rp.stdout and b"denied by policy" in rp.stdout
    rd = lb.ctl("replay", s["id"], "--no-wait", "--decisions")
    assert b"[bastion] line: echo REC1: allow (rule " in rd.stderr, rd.stderr
    assert ("[bastion] line: rm -f " + str(marker) + ": deny (rule ").encode() in rd.stderr
    v = lb.ctl("verify", s["id"])
    assert v.returncode == 0, v


def test_watch_follows_a_live_shell(lb, tmp_path):
    os.chmod(tmp_path, 0o755)
    before = lb.last_session_id()
    sh = Shell(lb)
    w = None
    try:
        live = lb.ctl_json("sessions", "--live", "--json")
        mine = [s for s in live if s["id"] > (before or 0)]
        assert len(mine) == 1, live
        sid = mine[0]["id"]
        w = subprocess.Popen([str(helpers.CTL_BIN), "-c", str(lb.config_path),
                              "watch", str(sid), "--interval", "50"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sh.send(b"echo WATCHED$((7*6))\r")
        sh.expect(b"WATCHED42\r\n")
        sh.prompt()
        cmd = f"touch {tmp_path / 'w'}"
        sh.send(cmd.encode() + b"\r")
        req = wait_pending(lb, cmd)
        assert vote(lb, req["id"], "deny", BOB, "not now").returncode == 0
        sh.expect(b"denied by bob")
        sh.prompt()
        assert sh.close() == 0
        out, err = w.communicate(timeout=20)
        assert w.returncode == 0, err
        assert b"WATCHED42" in out
        assert b"[bastion] line: echo WATCHED$((7*6)): allow (rule " in err, err
        assert f"[bastion] held: request {req['id']}: {cmd}".encode() in err, err
        assert f"[bastion] request {req['id']} denied by bob".encode() in err, err
        assert b"[bastion] session ended: closed" in err, err
    finally:
        sh.p.kill()
        if w is not None and w.poll() is None:
            w.kill()


def test_pty_session_exported_as_asciicast(lb, marker, tmp_path):
    """`bastionctl export` writes the shell as asciicast v2: the header
    has the pty's size and TERM, the "o" events are the replayed bytes as
    UTF-8, a window change is an "r" event, each decision an "m" marker;
    Debian's asciinema plays it back."""
    before = lb.last_session_id()
    with Shell(lb) as sh:
        sh.send("echo 'naïve €'\r".encode())
        sh.expect("naïve €\r\n".encode())
        sh.prompt()
        sh.p.resize(40, 100)
        sh.send(b"printf 'bad:\\377\\300\\257:end\\n'\r")
        sh.expect(b":end\r\n")
        sh.prompt()
        sh.send(b"rm -f " + str(marker).encode() + b"\r")
        sh.expect(b"denied by policy")
        sh.prompt()
        assert sh.close() == 0
    s = lb.wait_session(before)
    out = tmp_path / "s.cast"
    r = lb.ctl("export", s["id"], "--output", out, "--idle-cap", "1.5")
    assert r.returncode == 0, r
    assert (os.stat(out).st_mode & 0o777) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    assert head["version"] == 2 and (head["width"], head["height"]) == (120, 30), head
    assert head["idle_time_limit"] == 1.5 and head["env"]["TERM"], head
    assert f"session {s['id']}, channel 0: agent-ci on web1 as root: shell" == head["title"]
    events = [json.loads(x) for x in lines[1:]]
    times = [e[0] for e in events]
    assert times == sorted(times) and times[0] >= 0
    assert ["r"] == sorted({e[1] for e in events if e[1] == "r"})
    assert [e[2] for e in events if e[1] == "r"] == ["100x40"]
    marks = [e[2] for e in events if e[1] == "m"]
    assert any(m.startswith("[bastion] line: echo 'naïve €': allow") for m in marks), marks
    assert any(("rm -f " + str(marker) + ": deny") in m for m in marks), marks
    assert marks[-1].startswith("[bastion] session ended: closed"), marks
    # the output is exactly what replay writes, decoded as UTF-8 with the
    # standard replacement of what is not UTF-8
    text = "".join(e[2] for e in events if e[1] == "o")
    rp = lb.ctl("replay", s["id"], "--no-wait")
    assert text == rp.stdout.decode("utf-8", "replace")
    assert "naïve €" in text and "bad:\ufffd\ufffd\ufffd:end" in text
    # stdout is the same file; asciinema reads it
    r2 = lb.ctl("export", s["id"], "--idle-cap", "1.5")
    assert r2.stdout == out.read_bytes()
    cat = PtyRun(["asciinema", "cat", str(out)])     # it wants a terminal
    try:
        assert cat.wait(30) == 0, bytes(cat.out)
    finally:
        cat.kill()
    assert "naïve €".encode() in bytes(cat.out), bytes(cat.out)
    # with the agent's keystrokes
    r3 = lb.ctl("export", s["id"], "--stdin")
    keys = "".join(json.loads(x)[2] for x in r3.stdout.decode().splitlines()[1:]
                   if json.loads(x)[1] == "i")
    assert "echo 'naïve €'" in keys, keys

    # refusals
    r = lb.ctl("export", s["id"], "--format", "mp4")
    assert r.returncode == 2 and b'unknown --format "mp4"' in r.stderr, r
    r = lb.ctl("export", s["id"], "--channel", "7")
    assert r.returncode == 1 and b"no channel 7" in r.stderr, r
    r = lb.ctl("export", 999999)
    assert r.returncode == 1 and b"no session 999999" in r.stderr, r
