"""
Fixtures for the bastion integration tests.

world         (session) temp dir with all keys, ssh client config, the main
              target sshd; everything is stopped and the dir removed at the end
              (set BASTION_KEEP_TMP=1 to keep it for debugging).
sshd          (session) the main target: a real /usr/sbin/sshd on loopback.
bastion       (session) the main bastion (build/bastion), target "web1".
ssh, ctl      the main bastion's ssh(args, input=None, timeout=60) and
              ctl(*args) helpers.
make_bastion  (function) factory: a separate bastion with its own config,
              database, port; stopped (SIGTERM, must exit 0) after the test.
make_sshd     (function) factory: a separate target sshd.
blob50        (session) a 50 MB random file and its sha256.

Environment: BASTION_BUILD (default ./build), BASTION_DEBUG=1 (run the
bastion with -d), BASTION_KEEP_TMP=1.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import helpers
from helpers import World, sha256_file

_WORLD = None


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: moves tens of MB or waits seconds")


@pytest.fixture(scope="session")
def world():
    global _WORLD
    for b in (helpers.BASTION_BIN, helpers.SESSION_BIN, helpers.CTL_BIN):
        if not os.access(b, os.X_OK):
            pytest.fail(f"{b} is missing: build first (make), or set BASTION_BUILD",
                        pytrace=False)
    root = tempfile.mkdtemp(prefix="bastion-it-")
    w = World(root)
    _WORLD = w
    try:
        w.start_sshd("target")
        yield w
    finally:
        problems = w.cleanup()
        _WORLD = None
        if os.environ.get("BASTION_KEEP_TMP"):
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def sshd(world):
    return world.sshds[0]


@pytest.fixture(scope="session")
def bastion(world, sshd):
    return world.new_bastion("main")


@pytest.fixture
def ssh(bastion):
    return bastion.ssh


@pytest.fixture
def ctl(bastion):
    return bastion.ctl


@pytest.fixture
def make_bastion(world):
    made = []

    def make(name=None, config=None, start=True, **config_over):
        b = world.new_bastion(name, config=config, start=start, **config_over)
        made.append(b)
        return b
    yield make
    problems = []
    for b in made:
        problems += b.stop_and_check()
        world.bastions.remove(b)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def make_sshd(world):
    made = []

    def make(**kw):
        s = world.start_sshd(**kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()
        world.sshds.remove(s)


@pytest.fixture(scope="session")
def blob50(world):
    p = Path(world.root) / "blob50"
    with open(p, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    return p, sha256_file(p)


# Attach the bastions' log lines written during a failed test to its report.
@pytest.fixture(autouse=True)
def _log_offsets(request):
    if _WORLD is not None:
        request.node._bastion_log_offsets = {b.name: b.log_size() for b in _WORLD.bastions}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed or _WORLD is None:
        return
    offs = getattr(item, "_bastion_log_offsets", {})
    for b in _WORLD.bastions:
        text = b.log_text(offs.get(b.name, 0))
        if text:
            if len(text) > 8000:
                text = "...\n" + text[-8000:]
            rep.sections.append((f"bastion {b.name} log ({b.log})", text))
