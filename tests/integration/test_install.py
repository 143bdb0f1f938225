"""`make install`: the monitor and its worker side by side (the monitor
finds bastion-session beside itself), bastionctl, the docs, and a systemd
unit whose paths are the installed ones and which systemd accepts."""

import os
import re
import shlex
import shutil
import subprocess

import pytest

import helpers


def test_make_install(world, tmp_path):
    prefix = tmp_path / "prefix"
    # BASTION_MAKE_ARGS: the flags the build under test was made with
    # (`make asan`), so that a source changed since is rebuilt alike.
    r = subprocess.run(["make", "-s", "-C", str(helpers.REPO), "install",
                        f"PREFIX={prefix}", f"BUILD={helpers.BUILD}"] +
                       shlex.split(os.environ.get("BASTION_MAKE_ARGS", "")),
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    for rel in ("sbin/bastion", "sbin/bastion-session", "bin/bastionctl"):
        p = prefix / rel
        assert p.is_file() and os.access(p, os.X_OK), rel
    for doc in ("README.md", "ARCHITECTURE.md", "PROTOCOL.md", "SECURITY.md"):
        assert (prefix / "share/doc/bastion" / doc).is_file(), doc
    unit = (prefix / "lib/systemd/system/bastion.service").read_text()
    assert "@" not in re.sub(r"^#.*$", "", unit, flags=re.M), unit
    execs = re.findall(r"^Exec\w+=(\S+)", unit, flags=re.M)
    assert f"{prefix}/sbin/bastion" in execs and "/bin/kill" in execs, execs
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit

    # the installed binaries work: a config check, bastionctl's help
    b = world.new_bastion(start=False)
    r = subprocess.run([str(prefix / "sbin/bastion"), "-t", "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and b"configuration OK" in r.stdout, r
    r = subprocess.run([str(prefix / "bin/bastionctl"), "--help"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and b"policies" in r.stdout, r

    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze to check the unit with")
    u = tmp_path / "bastion.service"
    u.write_text(unit)
    r = subprocess.run(["systemd-analyze", "verify", str(u)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr.decode()
