"""`make demo`'s script (tests/demo.sh), the README's first command: in its
own folder and on free ports, it starts the target sshd and the bastion,
passes its smoke test, and the commands it prints work as printed: a
command through the bastion, a held one approved with the printed
bastionctl line, a denied one; `demo.sh stop` stops both."""

import os
import re
import shlex
import shutil
import subprocess
import tempfile

import pytest

import helpers

DEMO = helpers.REPO / "tests" / "demo.sh"


def printed(out, marker):
    """The printed command line that contains marker, as argv."""
    for line in out.splitlines():
        if marker in line:
            return shlex.split(line, comments=True)
    raise AssertionError(f"demo printed no line with {marker!r}:\n{out}")


@pytest.fixture
def demo():
    # The target sshd reads authorized_keys as the target user: the folder
    # must be reachable for everyone, unlike pytest's own temp folders.
    d = tempfile.mkdtemp(prefix="bastion-demo-test.")
    os.chmod(d, 0o755)
    env = dict(os.environ, DEMO_DIR=d, DEMO_PORT=str(helpers.free_port()),
               DEMO_TARGET_PORT=str(helpers.free_port()),
               BASTION_BUILD=str(helpers.BUILD))
    env.pop("BASTION_TOKEN", None)
    try:
        yield d, env
    finally:
        subprocess.run([str(DEMO), "stop"], env=env, capture_output=True,
                       timeout=60)
        shutil.rmtree(d, ignore_errors=True)


def test_demo_starts_and_its_commands_work(demo):
    d, env = demo
    r = subprocess.run([str(DEMO)], env=env, capture_output=True, timeout=180,
                       cwd=helpers.REPO)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "smoke test: deploy@" in out and "via the bastion" in out, out
    assert f"127.0.0.1:{env['DEMO_PORT']}" in out, out

    def run(argv, **kw):
        return subprocess.run(argv, env=env, capture_output=True, timeout=60,
                              cwd=helpers.REPO, stdin=subprocess.DEVNULL, **kw)

    # a command through the bastion, exactly as printed
    r = run(printed(out, "'uname -a'"))
    assert r.returncode == 0 and r.stdout.startswith(b"Linux"), r

    # held: an agent that cannot wait is told the request id (exit 75)
    argv = printed(out, "'sudo id'")
    nowait = argv[:1] + ["-o", "SetEnv=BASTION_WAIT=0"] + argv[1:]
    r = run(nowait)
    assert r.returncode == 75, r
    m = re.search(rb"bastion: held for approval: request (\d+)", r.stderr)
    assert m, r.stderr
    req = m.group(1).decode()
    approve = next(line for line in out.splitlines() if "approve ID" in line)
    r = run(["bash", "-c", approve.replace("approve ID", f"approve {req}")])
    assert r.returncode == 0, r
    assert f"request {req}".encode() in r.stdout + r.stderr, r
    # approved: the same command now runs (whatever sudo says on this host)
    r = run(nowait)
    assert r.returncode != 75, r
    assert f"bastion: approved request {req} is used".encode() in r.stderr, r

    # denied by the demo policy
    r = run(printed(out, "'mkfs /dev/x'"))
    assert r.returncode == 77 and b"denied by policy" in r.stderr, r

    # the recording the printed bastionctl lines point at verifies
    r = run(printed(out, "bastionctl -c")[:3] + ["verify", "--all"])
    assert r.returncode == 0, r

    r = run([str(DEMO), "stop"])
    assert r.returncode == 0, r
    assert b"stopped bastion" in r.stdout and b"stopped demo target sshd" in r.stdout, r
    r = run([str(DEMO), "status"])
    assert r.returncode == 1 and b"bastion not running" in r.stdout, r
