"""
A fake Slack Web API, and the other ends of the bastion's approval channels,
for the integration tests and the benchmark.

FakeSlack      a local HTTP server speaking the parts of Slack's Web API the
               bastion uses, with Slack's documented shapes:
                 POST /api/chat.postMessage   {"ok":true,"channel":C,"ts":T,"message":{...}}
                 POST /api/chat.update        {"ok":true,"channel":C,"ts":T,"text":...}
                 POST /response/<anything>    response_url: records ephemeral replies
               It checks the bearer token (else {"ok":false,"error":"invalid_auth"},
               as Slack does, with HTTP 200), the JSON content type and body,
               records every message with its arrival time, and can be told to
               answer the next calls with 429 + Retry-After, 5xx, or an
               {"ok":false} error.
Receiver       a webhook receiver that records headers and bodies.
slack_click()  clicks a button like Slack does: a block_actions payload,
               form-encoded, signed with the v0 scheme.
"""

import hashlib
import hmac
import http.client
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self, handler):
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def wait(self, pred, timeout=15, what="condition"):
        """Waits until pred() (called under the lock) is truthy; returns it."""
        # the monitor under valgrind (make valgrind) answers many times slower
        if os.environ.get("BASTION_WRAPPER"):
            timeout *= 4
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake server: timed out waiting for {what}")
                self.cond.wait(min(left, 0.2))


class _SlackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without this, Nagle + delayed
    # ACK add ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def _answer(self, status, obj=None, headers=()):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        fs = self.server.owner
        t = time.time()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        path = self.path
        with fs.cond:
            fs.calls.append({"path": path, "time": t, "headers": dict(self.headers),
                             "raw": raw})
            fs.cond.notify_all()
            fault = fs.faults.pop(0) if fs.faults and path.startswith("/api/") else None
        if fault is not None:
            kind, arg = fault
            if kind == "status":
                return self._answer(arg, {"ok": False, "error": "fake_status"})
            if kind == "ratelimit":
                return self._answer(429, {"ok": False, "error": "ratelimited"},
                                    [("Retry-After", str(arg))])
            if kind == "error":
                return self._answer(200, {"ok": False, "error": arg})
        if path.startswith("/response/"):
            with fs.cond:
                fs.replies.append({"path": path, "time": t, "body": json.loads(raw or b"{}")})
                fs.cond.notify_all()
            return self._answer(200, {"ok": True})
        if self.headers.get("Authorization") != f"Bearer {fs.token}":
            return self._answer(200, {"ok": False, "error": "invalid_auth"})
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            return self._answer(200, {"ok": False, "error": "invalid_form_data"})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._answer(200, {"ok": False, "error": "invalid_json"})
        if not isinstance(body, dict) or "channel" not in body:
            return self._answer(200, {"ok": False, "error": "channel_not_found"})
        if path == "/api/chat.postMessage":
            if not body.get("blocks") and not body.get("text"):
                return self._answer(200, {"ok": False, "error": "no_text"})
            with fs.cond:
                fs.seq += 1
                ts = f"{int(t)}.{fs.seq:06d}"
                fs.messages[ts] = {"channel": body["channel"], "ts": ts, "body": body,
                                   "time": t, "updates": []}
                fs.posts.append(fs.messages[ts])
                fs.cond.notify_all()
            return self._answer(200, {"ok": True, "channel": body["channel"], "ts": ts,
                                      "message": {"text": body.get("text", "")}})
        if path == "/api/chat.update":
            with fs.cond:
                m = fs.messages.get(body.get("ts"))
                if m is None or m["channel"] != body["channel"]:
                    return self._answer(200, {"ok": False, "error": "message_not_found"})
                m["updates"].append({"body": body, "time": t})
                fs.cond.notify_all()
            return self._answer(200, {"ok": True, "channel": body["channel"],
                                      "ts": body["ts"], "text": body.get("text", "")})
        return self._answer(404, {"ok": False, "error": "unknown_method"})


class FakeSlack(_Base):
    def __init__(self, token="xoxb-test-token", channel="C0APPROVE"):
        self.token = token
        self.channel = channel
        self.calls = []
        self.posts = []
        self.messages = {}
        self.replies = []
        self.faults = []
        self.seq = 0
        super().__init__(_SlackHandler)

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.port}/api"

    def response_url(self, tag="x"):
        return f"http://127.0.0.1:{self.port}/response/{tag}"

    def fail_next(self, n, status=503):
        with self.lock:
            self.faults += [("status", status)] * n

    def ratelimit_next(self, n, retry_after=1):
        with self.lock:
            self.faults += [("ratelimit", retry_after)] * n

    def error_next(self, n, error="internal_error"):
        with self.lock:
            self.faults += [("error", error)] * n

    def message_for(self, rid, timeout=15):
        """The posted message whose buttons carry request rid."""
        def pred():
            for m in self.posts:
                if f"request {rid}" in m["body"].get("text", ""):
                    return m
            return None
        return self.wait(pred, timeout, f"chat.postMessage for request {rid}")

    def wait_update(self, msg, pred, timeout=15, what="chat.update"):
        def p():
            for u in msg["updates"]:
                if pred(u["body"]):
                    return u
            return None
        return self.wait(p, timeout, what)

    def wait_reply(self, tag, timeout=15):
        def pred():
            for r in self.replies:
                if r["path"] == f"/response/{tag}":
                    return r
            return None
        return self.wait(pred, timeout, f"ephemeral reply {tag}")


class _ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def do_POST(self):
        rv = self.server.owner
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        with rv.cond:
            status = rv.statuses.pop(0) if rv.statuses else 200
            rv.calls.append({"path": self.path, "time": time.time(),
                             "headers": {k.lower(): v for k, v in self.headers.items()},
                             "raw": raw, "status": status})
            rv.cond.notify_all()
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Receiver(_Base):
    """A webhook (or Teams) receiver; statuses: answers for the next calls."""

    def __init__(self):
        self.calls = []
        self.statuses = []
        super().__init__(_ReceiverHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"


def block_actions(user, action, rid, channel="C0APPROVE", message_ts="",
                  response_url=""):
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "container": {"type": "message", "message_ts": message_ts,
                      "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "approvals"},
        "response_url": response_url,
        "actions": [{"action_id": action, "block_id": f"request-{rid}",
                     "value": str(rid), "type": "button",
                     "action_ts": f"{time.time():.6f}"}],
    }


def sign(secret, ts, body):
    base = b"v0:" + str(ts).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post(port, path, body, headers, timeout=10, tls=None):
    """POSTs to the bastion's listener; tls: an ssl.SSLContext for HTTPS."""
    if tls is not None:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                        context=tls)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        return r.status, data
    finally:
        c.close()


def slack_click(port, secret, payload, ts=None, signature=None, body=None,
                tls=None):
    """POSTs a signed block_actions payload to /slack/actions; (status, bytes)."""
    ts = int(time.time()) if ts is None else ts
    if body is None:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    sig = signature or sign(secret, ts, body)
    return post(port, "/slack/actions", body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sig,
    }, tls=tls)
