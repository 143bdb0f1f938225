"""The HTTP listener over TLS (http.tls_cert / http.tls_key): the API, the
review page and Slack's signed clicks over HTTPS with a certificate made
for the test, plain HTTP refused on that port, the certificate read again
on SIGHUP (and kept when the new files are bad), and `bastion -t` naming
what is wrong with the files."""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

import helpers
from fakeslack import block_actions, slack_click
from test_approvals import held
from test_slack import APPROVERS, POLICY, SECRET, SLACK_IDS, TOKENS
from test_slack import slack  # noqa: F401  (the fake Slack fixture)


def make_cert(d, name, cn="127.0.0.1"):
    """A self-signed P-256 certificate for 127.0.0.1; (cert, key) paths."""
    cert, key = d / f"{name}.crt", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def context(cert):
    """Trusts only cert (and checks the name, as browsers and Slack do)."""
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def der(cert):
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


@pytest.fixture(scope="module")
def tls(world, slack):
    """A bastion serving HTTPS, with Slack; the files it reads on SIGHUP."""
    d = world.root / "tls"
    d.mkdir(exist_ok=True)
    cert, key = make_cert(d, "first")
    live_cert, live_key = d / "http.crt", d / "http.key"
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    hport = helpers.free_port()
    b = world.new_bastion(
        "tls", approvers=APPROVERS, policy=POLICY,
        http={"listen": f"127.0.0.1:{hport}",
              "tls_cert": str(live_cert), "tls_key": str(live_key)},
        slack={"api_url": slack.api_url, "bot_token": slack.token,
               "signing_secret": SECRET, "channel": slack.channel})
    b.http_port = hport
    b.tls_dir = d
    b.live = (live_cert, live_key)
    b.ctx = context(cert)
    return b


def https(b, method, path, token=None, body=None, ctx=None):
    c = http.client.HTTPSConnection("127.0.0.1", b.http_port, timeout=10,
                                    context=ctx or b.ctx)
    h = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        version = c.sock.version()
        peer = c.sock.getpeercert(binary_form=True)
    finally:
        c.close()
    return r, raw, version, peer


def test_api_over_https(tls):
    p, req = held(tls, "sudo -n true 2>/dev/null; echo over-tls")
    r, raw, version, _ = https(tls, "GET", f"/api/requests/{req['id']}",
                               TOKENS["bob"])
    assert r.status == 200, raw
    assert json.loads(raw)["request"]["command"].endswith("echo over-tls")
    assert version in ("TLSv1.2", "TLSv1.3"), version
    assert r.getheader("Strict-Transport-Security") == "max-age=31536000"
    # the token check is the same as over plain HTTP
    r, raw, _, _ = https(tls, "GET", "/api/requests", "wrong")
    assert r.status == 401
    r, raw, _, _ = https(tls, "POST", f"/api/requests/{req['id']}/approve",
                         TOKENS["bob"], {"reason": "tls ok"})
    assert r.status == 200 and json.loads(raw)["status"] == "approved", raw
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == b"over-tls\n", err


def test_slack_click_over_https(tls, slack, tmp_path):
    marker = tmp_path / "ran"
    p, req = held(tls, f"sudo -n true 2>/dev/null; touch {marker}")
    msg = slack.message_for(req["id"])
    text = json.dumps(msg["body"])
    # review links point at the HTTPS listener (public_url's default)
    link = f"https://127.0.0.1:{tls.http_port}/requests/{req['id']}?k="
    assert link in text, text
    k = text.split(link, 1)[1].split('"', 1)[0].split("|", 1)[0]
    r, page, _, _ = https(tls, "GET", f"/requests/{req['id']}?k={k}")
    assert r.status == 200 and b"sudo -n true" in page, page[:300]
    payload = block_actions(SLACK_IDS["bob"], "approve", req["id"],
                            message_ts=msg["ts"])
    st, data = slack_click(tls.http_port, SECRET, payload, tls=tls.ctx)
    assert st == 200, data
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert marker.exists()


def test_large_body_over_tls(tls):
    """A Slack callback near the 64 KiB body limit arrives whole over TLS
    (its signature is checked on all of it); one over the limit is cut."""
    payload = block_actions(SLACK_IDS["bob"], "approve", 99999999)
    payload["padding"] = "x" * (60 * 1024)
    st, data = slack_click(tls.http_port, SECRET, payload, tls=tls.ctx)
    # 200: the signature matched the whole 60 KiB body as it arrived
    # (a body cut or mangled on the way would be 401); the unknown request
    # is then answered to the clicker through response_url, not here
    assert st == 200, (st, data[:300])
    payload["padding"] = "x" * (70 * 1024)
    try:
        st, data = slack_click(tls.http_port, SECRET, payload, tls=tls.ctx)
        assert st >= 400, st
    except (ConnectionError, http.client.HTTPException, ssl.SSLError, OSError):
        pass        # the listener closed the connection: also a refusal
    tls.assert_serving()


def test_plain_http_and_wrong_certificate_refused(tls):
    off = len(tls.log_text())
    c = http.client.HTTPConnection("127.0.0.1", tls.http_port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        c.request("GET", "/api/requests",
                  headers={"Authorization": f"Bearer {TOKENS['bob']}"})
        c.getresponse().read()
    c.close()
    # a client that trusts another certificate refuses ours
    other, _ = make_cert(tls.tls_dir, "stranger")
    with pytest.raises(ssl.SSLCertVerificationError):
        https(tls, "GET", "/api/requests", TOKENS["bob"], ctx=context(other))
    # and the listener keeps serving
    r, _, _, _ = https(tls, "GET", "/api/requests", TOKENS["bob"])
    assert r.status == 200
    tls.assert_serving()
    assert TOKENS["bob"] not in tls.log_text(off)


def test_stalled_and_garbage_handshakes_do_not_block(tls):
    """Half a ClientHello that never completes, and bytes that are not TLS:
    the monitor's loop does not wait for either (libmicrohttpd runs
    nonblocking in it), sessions and other HTTPS clients are served, and
    the stalled connection is dropped after the idle timeout."""
    stalled = socket.create_connection(("127.0.0.1", tls.http_port), timeout=30)
    stalled.sendall(bytes.fromhex("160301020001"))      # a record header, then nothing
    junk = socket.create_connection(("127.0.0.1", tls.http_port), timeout=30)
    junk.sendall(b"\x16\x03\x01\x00\x05" + os.urandom(5) + b"\x00" * 64)
    t0 = time.time()
    r, _, _, _ = https(tls, "GET", "/api/requests", TOKENS["bob"])
    assert r.status == 200
    tls.assert_serving()
    assert time.time() - t0 < 5
    junk.settimeout(10)
    assert junk.recv(4096) is not None     # an alert or EOF, not a hang
    stalled.settimeout(20)
    try:
        data = stalled.recv(4096)
    except ConnectionResetError:
        data = b""
    assert data == b"" or data[:1] == b"\x15", data   # closed (or an alert)
    assert time.time() - t0 >= 5      # held until libmicrohttpd's idle timeout
    stalled.close()
    junk.close()


def wait_log(b, off, text, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if text in b.log_text(off):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log: {b.log_text(off)[-2000:]}")


def test_sighup_reloads_certificate(tls):
    live_cert, live_key = tls.live
    new_cert, new_key = make_cert(tls.tls_dir, "renewed")
    old_ctx = tls.ctx
    try:
        # a renewal: new files, SIGHUP, new connections get the new one
        live_cert.write_bytes(new_cert.read_bytes())
        live_key.write_bytes(new_key.read_bytes())
        off = len(tls.log_text())
        os.kill(tls.proc.pid, signal.SIGHUP)
        wait_log(tls, off, f"TLS certificate {live_cert} reloaded")
        tls.ctx = context(new_cert)
        r, _, _, peer = https(tls, "GET", "/api/requests", TOKENS["bob"])
        assert r.status == 200 and peer == der(new_cert)

        # a half-done renewal (key of another certificate): the listener
        # keeps what it serves and says why
        _, stray_key = make_cert(tls.tls_dir, "stray")
        live_key.write_bytes(stray_key.read_bytes())
        off = len(tls.log_text())
        os.kill(tls.proc.pid, signal.SIGHUP)
        wait_log(tls, off, "the listener keeps its certificate")
        assert "is not the key of the certificate" in tls.log_text(off)
        r, _, _, peer = https(tls, "GET", "/api/requests", TOKENS["bob"])
        assert r.status == 200 and peer == der(new_cert)
        tls.assert_serving()
    finally:
        live_key.write_bytes(new_key.read_bytes())


def check(world, **http):
    b = world.new_bastion(start=False, approvers=APPROVERS, policy=POLICY,
                          http={"listen": "127.0.0.1:1", **http})
    r = subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    return r.returncode, r.stderr.decode()


def test_config_errors(world, tmp_path):
    cert, key = make_cert(tmp_path, "good")
    other_cert, other_key = make_cert(tmp_path, "other")
    enc = tmp_path / "enc.key"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-aes256", "-passout",
                    "pass:secret", "-out", str(enc)], check=True, timeout=30)
    sshkey = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(sshkey)], check=True, timeout=30)
    chain = tmp_path / "chain.crt"
    chain.write_text(cert.read_text() + other_cert.read_text())
    broken = tmp_path / "broken.crt"
    broken.write_text(cert.read_text() + "-----BEGIN CERTIFICATE-----\nAAAA\n"
                      "-----END CERTIFICATE-----\n")

    rc, err = check(world, tls_cert=str(cert), tls_key=str(key))
    assert rc == 0, err
    # relative paths are taken from the config file's folder
    b = world.new_bastion(start=False, approvers=APPROVERS, policy=POLICY,
                          http={"listen": "127.0.0.1:1", "tls_cert": "tls/web.crt",
                                "tls_key": "./tls/web.key"})
    (b.config_path.parent / "tls").mkdir()
    (b.config_path.parent / "tls" / "web.crt").write_bytes(cert.read_bytes())
    r = subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 1
    assert (f"http.tls_key: cannot read: No such file or directory "
            f"({b.config_path.parent}/tls/web.key)") in r.stderr.decode()
    (b.config_path.parent / "tls" / "web.key").write_bytes(key.read_bytes())
    r = subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rc, err = check(world, tls_cert=str(chain), tls_key=str(key))
    assert rc == 0, err     # a chain: leaf first, then intermediates
    cases = [
        ({"tls_cert": str(cert)}, "http.tls_key: is required with http.tls_cert"),
        ({"tls_key": str(key)}, "http.tls_cert: is required with http.tls_key"),
        ({"tls_cert": str(tmp_path / "nope.crt"), "tls_key": str(key)},
         "http.tls_cert: cannot read: No such file or directory (/"),
        ({"tls_cert": str(key), "tls_key": str(key)},
         "http.tls_cert: holds no PEM certificate"),
        ({"tls_cert": str(broken), "tls_key": str(key)},
         "http.tls_cert: a certificate after the first does not parse"),
        ({"tls_cert": str(cert), "tls_key": str(other_key)},
         "http.tls_key: is not the key of the certificate in http.tls_cert (/"),
        ({"tls_cert": str(cert), "tls_key": str(enc)}, "the key is encrypted"),
        ({"tls_cert": str(cert), "tls_key": str(sshkey)},
         "an OpenSSH key, not a PEM private key for TLS"),
        ({"tls_cert": str(cert), "tls_key": str(cert)}, "holds no PEM private key"),
        ({"tls_cert": 5, "tls_key": str(key)}, "http.tls_cert"),
    ]
    for http_over, want in cases:
        rc, err = check(world, **http_over)
        assert rc == 1 and want in err, (http_over, err)
        # one line per problem, and never a key's contents
        assert len(err.strip().splitlines()) == 1, err
        for k in (key, other_key, enc):
            assert k.read_text().splitlines()[1][:40] not in err
