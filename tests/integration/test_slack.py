"""Approvals through Slack, the HTTP API, Teams and webhooks, end to end:
a real bastion with its HTTP listener, a fake Slack Web API (fakeslack.py),
signed clicks like Slack sends them, the held command running on a real
sshd target once approved."""

import hashlib
import hmac
import http.client
import json
import os
import subprocess
import time
import urllib.parse

import pytest

import helpers
from fakeslack import FakeSlack, Receiver, block_actions, post, sign, slack_click
from test_approvals import held, pending, wait_pending

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKENS = {n: f"tok-{n}" for n in ("alice", "bob", "carol", "dave", "erin")}
SLACK_IDS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL",
             "dave": "U0DAVE", "erin": "U0ERIN"}
GROUPS = {"alice": ["oncall", "dba"], "bob": ["oncall"], "carol": ["dba"],
          "dave": ["dba"], "erin": ["web"]}
WEBHOOK_SECRET = "whsec-test"


def sha(t):
    return hashlib.sha256(t.encode()).hexdigest()


APPROVERS = [{"name": n, "groups": GROUPS[n], "token_sha256": sha(TOKENS[n]),
              "slack_user": SLACK_IDS[n]} for n in TOKENS]

POLICY = {
    "default": "approve", "opaque": "approve", "shell": "approve", "redirect": "approve",
    "timeout": 60,
    "rules": [
        {"name": "read-only", "match": {"commands": ["ls", "cat", "echo", "true", "touch"]},
         "action": "allow"},
        {"name": "privilege", "match": {"commands": ["sudo"]},
         "action": "approve", "approvers": "oncall", "count": 1, "timeout": 60},
        {"name": "data-export", "match": {"commands": ["pg_dump"]},
         "action": "approve", "approvers": "dba", "count": 2, "timeout": 60},
        {"name": "quick", "match": {"commands": ["date"]},
         "action": "approve", "approvers": "oncall", "timeout": 2},
        {"name": "tmp", "match": {"writes": ["/tmp/*"]}, "action": "allow"},
    ],
}


@pytest.fixture(scope="module")
def slack():
    s = FakeSlack(channel="C0APPROVE")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def hook():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def teams():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def sb(world, slack, hook, teams):
    """A bastion with the HTTP listener, Slack, Teams and a webhook."""
    hport = helpers.free_port()
    b = world.new_bastion(
        "slack", approvers=APPROVERS, policy=POLICY,
        http={"listen": f"127.0.0.1:{hport}",
              "public_url": f"http://127.0.0.1:{hport}/"},
        slack={"api_url": slack.api_url, "bot_token": slack.token,
               "signing_secret": SECRET, "channel": slack.channel},
        teams={"webhook_url": teams.url},
        webhooks=[{"url": hook.url, "secret": WEBHOOK_SECRET}])
    b.http_port = hport
    return b


def still_pending(b, rid):
    return any(r["id"] == rid for r in pending(b))


def click(b, slack, who, action, rid, msg=None, tag=None, **kw):
    payload = block_actions(SLACK_IDS.get(who, who), action, rid,
                            message_ts=msg["ts"] if msg else "",
                            response_url=slack.response_url(tag) if tag else "")
    return slack_click(b.http_port, SECRET, payload, **kw)


def api(b, method, path, token=None, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", b.http_port, timeout=10)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
    finally:
        c.close()
    ctype = r.getheader("Content-Type", "")
    return r.status, (json.loads(raw) if ctype.startswith("application/json") else raw)


def block_types(body):
    return [b["type"] for b in body["blocks"]]


def all_text(body):
    return json.dumps(body)


# --------------------------------------------------------------------------

def test_held_posts_message_and_click_approves(sb, slack, tmp_path):
    marker = tmp_path / "ran"
    cmd = f"sudo -n true 2>/dev/null; touch {marker}; echo 'done <!channel>'"
    p, req = held(sb, cmd)
    msg = slack.message_for(req["id"])
    body = msg["body"]
    assert body["channel"] == "C0APPROVE"
    types = block_types(body)
    assert types[0] == "header" and "actions" in types, types
    text = all_text(body)
    # the command, escaped: no mention survives
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "agent-ci" in text and "alice" in text and "web1" in text
    assert "privilege" in text and "1 of oncall" in text
    assert "*What*" in text and "a command" in text, text
    actions = [b for b in body["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [a["action_id"] for a in actions] == ["approve", "deny"]
    assert all(a["value"] == str(req["id"]) for a in actions)
    assert "confirm" in actions[1] and "confirm" not in actions[0]
    link = f"http://127.0.0.1:{sb.http_port}/requests/{req['id']}?k="
    assert link in text
    assert not marker.exists()

    st, data = click(sb, slack, "bob", "approve", req["id"], msg)
    assert st == 200, data
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert out == b"done <!channel>\n"
    assert marker.exists()
    u = slack.wait_update(msg, lambda b: "actions" not in block_types(b),
                          what="final update without buttons")
    assert "approved by bob" in all_text(u["body"])
    assert u["body"]["ts"] == msg["ts"]
    r = sb.ctl_json("show", sb.sessions()[0]["id"], "--json")["requests"][0]
    assert r["status"] == "approved" and r["votes"][0]["approver"] == "bob"
    assert r["votes"][0]["reason"] == "via Slack"


def test_sftp_upload_approved_in_slack(sb, slack, tmp_path):
    # a file transfer is shown to approvers as the shell command it amounts to
    src = tmp_path / "app.conf"
    src.write_text("setting = 1\n")
    dst = f"/var/tmp/bastion-slack-sftp-{time.time_ns()}.conf"
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} {dst}\n")
    w = sb.world
    p = subprocess.Popen(["sftp", "-F", str(w.ssh_config), "-P", str(sb.port),
                          "-i", str(w.agent_key), "-b", str(batch), "web1@127.0.0.1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        req = wait_pending(sb, f"cat > '{dst}'")
        msg = slack.message_for(req["id"])
        text = all_text(msg["body"])
        assert "a file operation over sftp" in text, text
        assert dst in text
        assert not os.path.exists(dst)
        st, data = click(sb, slack, "bob", "approve", req["id"], msg)
        assert st == 200, data
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    try:
        assert p.returncode == 0, err
        with open(dst) as f:
            assert f.read() == "setting = 1\n"
    finally:
        if os.path.exists(dst):
            os.unlink(dst)


def test_review_page(sb, slack):
    p, req = held(sb, "sudo cat '/etc/<hostname>'")
    try:
        msg = slack.message_for(req["id"])
        text = all_text(msg["body"])
        start = text.index(f"/requests/{req['id']}?k=")
        path = text[start:text.index("|", start)]
        st, page = api(sb, "GET", path)
        assert st == 200
        assert b"/etc/&lt;hostname&gt;" in page and b"<hostname>" not in page
        st, _ = api(sb, "GET", f"/requests/{req['id']}?k=00000000000000000000000000000000")
        assert st == 404
        st, _ = api(sb, "GET", f"/requests/{req['id']}")
        assert st == 401
        st, page = api(sb, "GET", f"/requests/{req['id']}", token=TOKENS["erin"])
        assert st == 200 and b"Approval request" in page
    finally:
        api(sb, "POST", f"/api/requests/{req['id']}/deny", TOKENS["bob"], {})
        p.communicate(timeout=30)


def post_form(b, path, fields):
    """What a browser sends for the review page's form."""
    body = urllib.parse.urlencode(fields).encode()
    return api(b, "POST", path, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})


def test_decide_on_review_page(sb, slack, tmp_path):
    """The review page's form (the link in Slack and Teams) decides with
    the approver's token, under the broker's rules; refusals are pages
    saying why, and nothing changes."""
    marker = tmp_path / "ran"
    p, req = held(sb, f"sudo -n true 2>/dev/null; touch {marker}")
    rid = req["id"]
    try:
        msg = slack.message_for(rid)
        text = all_text(msg["body"])
        start = text.index(f"/requests/{rid}?k=")
        path = text[start:text.index("|", start)]
        st, page = api(sb, "GET", path)
        assert st == 200
        # the form posts back to this page's own address, token required
        assert b'<form method="post">' in page, page
        assert b'type="password" name="token"' in page
        assert b'name="vote" value="approve"' in page and b'value="deny"' in page
        # refusals: no vote, no token, a wrong token, the owner, a wrong group
        st, page = post_form(sb, path, {"token": TOKENS["bob"]})
        assert st == 400 and b"approve or deny" in page, page
        st, page = post_form(sb, path, {"vote": "approve"})
        assert st == 400 and b"token is required" in page, page
        st, page = post_form(sb, path, {"vote": "approve", "token": "guess"})
        assert st == 401 and b"unknown approver token" in page, page
        st, page = post_form(sb, path, {"vote": "approve", "token": TOKENS["alice"]})
        assert st == 403 and b"self-approval" in page, page
        st, page = post_form(sb, path, {"vote": "approve", "token": TOKENS["erin"]})
        assert st == 403 and b"group" in page, page
        # a field twice is a bad form, not two votes
        body = b"vote=deny&vote=approve&token=" + TOKENS["bob"].encode()
        st, page = api(sb, "POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert st == 400, (st, page)
        assert still_pending(sb, rid)
        st, page = post_form(sb, path, {"vote": "approve", "token": TOKENS["bob"],
                                        "reason": "<looks fine>"})
        assert st == 200 and b"Recorded:" in page, page
        assert b"<looks" not in page
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert marker.exists()
        r = sb.ctl_json("show", sb.sessions()[0]["id"], "--json")["requests"]
        r = [x for x in r if x["id"] == rid][0]
        assert r["status"] == "approved" and r["votes"][0]["approver"] == "bob"
        assert r["votes"][0]["reason"] == "<looks fine>"
        # decided: the page shows the outcome and no form
        st, page = api(sb, "GET", path)
        assert st == 200 and b"<form" not in page and b"approved by bob" in page
        st, page = post_form(sb, path, {"vote": "deny", "token": TOKENS["carol"]})
        assert st == 409, (st, page)
        log = sb.log_text()
        assert TOKENS["bob"] not in log
        assert f"review page: bob approves request {rid}: recorded" in log
    finally:
        if p.poll() is None:
            api(sb, "POST", f"/api/requests/{rid}/deny", TOKENS["bob"], {})
            p.communicate(timeout=30)


def test_bad_signature_stale_and_replay(sb, slack):
    p, req = held(sb, "sudo id")
    try:
        msg = slack.message_for(req["id"])
        payload = block_actions("U0BOB", "approve", req["id"], message_ts=msg["ts"])
        # wrong secret
        body = ("payload=" + json.dumps(payload)).encode()
        ts = int(time.time())
        st, data = slack_click(sb.http_port, SECRET, payload, ts=ts, body=body,
                               signature=sign("not-the-secret", ts, body))
        assert st == 401 and json.loads(data)["error"] == "invalid signature", data
        # body changed after signing
        st, data = slack_click(sb.http_port, SECRET, payload, ts=ts, body=body + b"x",
                               signature=sign(SECRET, ts, body))
        assert st == 401
        # stale, correctly signed
        st, data = slack_click(sb.http_port, SECRET, payload, ts=int(time.time()) - 400)
        assert st == 401 and "stale" in json.loads(data)["error"], data
        st, data = slack_click(sb.http_port, SECRET, payload, ts=int(time.time()) + 400)
        assert st == 401
        # no signature at all
        st, data = post(sb.http_port, "/slack/actions", body,
                        {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 401
        assert still_pending(sb, req["id"]) and p.poll() is None
        # a replayed (valid) click: erin's, refused by group, then replayed
        ts = int(time.time())
        eb = ("payload=" + json.dumps(block_actions("U0ERIN", "approve", req["id"]))).encode()
        sig = sign(SECRET, ts, eb)
        st, _ = slack_click(sb.http_port, SECRET, None, ts=ts, body=eb, signature=sig)
        assert st == 200
        st, data = slack_click(sb.http_port, SECRET, None, ts=ts, body=eb, signature=sig)
        assert st == 401 and json.loads(data)["error"] == "replayed request", data
        assert still_pending(sb, req["id"])
    finally:
        api(sb, "POST", f"/api/requests/{req['id']}/deny", TOKENS["bob"], {})
        p.communicate(timeout=30)


@pytest.mark.parametrize("who,why", [
    ("U0MALLORY", "not a bastion approver"),
    ("alice", "self-approval"),
    ("erin", "not in the required group"),
])
def test_refused_clicks_tell_the_clicker(sb, slack, who, why):
    cmd = f"sudo echo refused-{who}"
    p, req = held(sb, cmd)
    try:
        msg = slack.message_for(req["id"])
        tag = f"refuse-{who}-{req['id']}"
        st, _ = click(sb, slack, who, "approve", req["id"], msg, tag=tag)
        assert st == 200
        reply = slack.wait_reply(tag)
        assert reply["body"]["response_type"] == "ephemeral"
        assert why in reply["body"]["text"], reply
        assert "Nothing changed" in reply["body"]["text"]
        time.sleep(0.3)
        assert still_pending(sb, req["id"]) and p.poll() is None
        r = sb.ctl_json("pending", "--json")
        assert [x for x in r if x["id"] == req["id"]][0]["votes"] == []
    finally:
        api(sb, "POST", f"/api/requests/{req['id']}/deny", TOKENS["bob"], {})
        p.communicate(timeout=30)


def test_click_from_another_message_refused(sb, slack):
    p, req = held(sb, "sudo echo other-message")
    try:
        msg = slack.message_for(req["id"])
        tag = f"other-{req['id']}"
        payload = block_actions("U0BOB", "approve", req["id"], message_ts="1.000001",
                                response_url=slack.response_url(tag))
        st, _ = slack_click(sb.http_port, SECRET, payload)
        assert st == 200
        assert "not on the request's message" in slack.wait_reply(tag)["body"]["text"]
        payload = block_actions("U0BOB", "approve", req["id"], channel="C0OTHER",
                                message_ts=msg["ts"], response_url=slack.response_url(tag + "c"))
        st, _ = slack_click(sb.http_port, SECRET, payload)
        assert "approval channel" in slack.wait_reply(tag + "c")["body"]["text"]
        assert still_pending(sb, req["id"])
    finally:
        api(sb, "POST", f"/api/requests/{req['id']}/deny", TOKENS["bob"], {})
        p.communicate(timeout=30)


def test_two_approvers_and_deny(sb, slack):
    p, req = held(sb, "pg_dump --version")
    msg = slack.message_for(req["id"])
    tag = f"two-{req['id']}"
    st, _ = click(sb, slack, "carol", "approve", req["id"], msg, tag=tag)
    assert st == 200
    assert "1 of 2" in slack.wait_reply(tag)["body"]["text"]
    u = slack.wait_update(msg, lambda b: "carol approved" in all_text(b),
                          what="update with carol's vote")
    assert "actions" in block_types(u["body"]), "still pending: buttons stay"
    time.sleep(0.3)
    assert p.poll() is None
    st, _ = click(sb, slack, "dave", "approve", req["id"], msg)
    assert st == 200
    out, err = p.communicate(timeout=30)
    assert p.returncode in (0, 127), err
    assert b"approved by carol,dave" in err
    u = slack.wait_update(msg, lambda b: "actions" not in block_types(b))
    assert "approved by carol,dave" in all_text(u["body"])

    # a deny from Slack decides at once
    p, req = held(sb, "sudo echo deny-me")
    msg = slack.message_for(req["id"])
    st, _ = click(sb, slack, "bob", "deny", req["id"], msg)
    assert st == 200
    out, err = p.communicate(timeout=30)
    assert p.returncode == 77 and b"denied by bob" in err and out == b""


def test_click_after_expiry(sb, slack):
    p, req = held(sb, "date +%s")
    msg = slack.message_for(req["id"])
    out, err = p.communicate(timeout=30)
    assert p.returncode == 75, err
    u = slack.wait_update(msg, lambda b: "actions" not in block_types(b),
                          what="expiry update")
    assert "expired" in all_text(u["body"])
    tag = f"late-{req['id']}"
    st, _ = click(sb, slack, "bob", "approve", req["id"], msg, tag=tag)
    assert st == 200
    assert "already expired" in slack.wait_reply(tag)["body"]["text"]


def test_slack_down_then_recovering(sb, slack, tmp_path):
    marker = tmp_path / "ran"
    slack.fail_next(2, 503)
    slack.ratelimit_next(1, retry_after=1)
    cmd = f"sudo true; touch {marker}"
    t0 = time.time()
    p, req = held(sb, cmd)
    # meanwhile: visible as retrying, decidable through the HTTP API
    def retrying():
        r = [x for x in pending(sb) if x["id"] == req["id"]]
        n = {x["channel"]: x for x in r[0]["notify"]} if r else {}
        return n.get("slack", {}).get("status") == "retrying" and n
    n = helpers.wait_until(retrying, 10, what="slack retrying in pending")
    assert "503" in n["slack"]["detail"] or "429" in n["slack"]["detail"], n
    text = sb.ctl("pending").stdout.decode()
    assert "NOTIFY" in text and "slack retrying" in text, text
    st, rep = api(sb, "POST", f"/api/requests/{req['id']}/approve", TOKENS["bob"],
                  {"reason": "slack is down"})
    assert st == 200 and rep["status"] == "approved", rep
    p.communicate(timeout=30)
    assert p.returncode == 0 and marker.exists()
    # Slack comes back: the message is posted, then updated to the outcome
    msg = slack.message_for(req["id"], timeout=20)
    assert msg["time"] - t0 >= 1.5, "backoff and Retry-After were not honoured"
    u = slack.wait_update(msg, lambda b: "actions" not in block_types(b), timeout=20)
    assert "approved by bob" in all_text(u["body"])
    def slack_ok():
        r = sb.ctl_json("show", sb.sessions()[0]["id"], "--json")["requests"][0]
        return {x["channel"]: x["status"] for x in r["notify"]}["slack"] == "ok"
    helpers.wait_until(slack_ok, 10, what="slack status ok")


def test_slack_error_recorded(sb, slack):
    slack.error_next(1, "channel_not_found")
    p, req = held(sb, "sudo echo lost")
    try:
        def failed():
            r = [x for x in pending(sb) if x["id"] == req["id"]][0]
            n = {x["channel"]: x for x in r["notify"]}
            return n.get("slack", {}).get("status") == "failed" and n
        n = helpers.wait_until(failed, 10, what="slack failed")
        assert "channel_not_found" in n["slack"]["detail"]
        assert still_pending(sb, req["id"])
    finally:
        st, _ = api(sb, "POST", f"/api/requests/{req['id']}/deny", TOKENS["bob"], {})
        p.communicate(timeout=30)
    assert p.returncode == 77


def test_http_api(sb):
    p, req = held(sb, "sudo -n true 2>/dev/null; echo api")
    rid = req["id"]
    st, r = api(sb, "GET", "/api/requests")
    assert st == 401 and r["ok"] is False
    st, r = api(sb, "GET", "/api/requests", "wrong")
    assert st == 401
    st, r = api(sb, "GET", "/api/requests", TOKENS["erin"])
    assert st == 200 and any(x["id"] == rid for x in r["requests"])
    st, r = api(sb, "GET", f"/api/requests/{rid}", TOKENS["erin"])
    assert st == 200 and r["request"]["command"] == "sudo -n true 2>/dev/null; echo api"
    st, r = api(sb, "GET", "/api/requests/99999999", TOKENS["erin"])
    assert st == 404
    st, r = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["alice"], {})
    assert st == 403 and "self-approval" in r["error"], r
    st, r = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["erin"], {})
    assert st == 403 and "group" in r["error"], r
    st, r = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["bob"], b"{not json")
    assert st == 400
    st, r = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["bob"], {"reason": 5})
    assert st == 400
    st, r = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["bob"],
                b"x" * (17 * 1024))
    assert st == 413
    assert still_pending(sb, rid)
    st, r = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["bob"],
                {"reason": "api ok"})
    assert st == 200 and r["ok"] and r["status"] == "approved", r
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == b"api\n", err
    st, r = api(sb, "POST", f"/api/requests/{rid}/deny", TOKENS["bob"], {})
    assert st == 409 and "already approved" in r["error"]
    st, r = api(sb, "GET", f"/api/requests?status=approved", TOKENS["bob"])
    assert st == 200 and any(x["id"] == rid for x in r["requests"])
    # only the documented methods and paths
    st, r = api(sb, "DELETE", f"/api/requests/{rid}", TOKENS["bob"])
    assert st == 405 and r["ok"] is False
    st, r = api(sb, "GET", "/etc/passwd")
    assert st == 404 and r["error"] == "not found"
    st, r = api(sb, "GET", "/api/requests/0", TOKENS["bob"])
    assert st == 404
    sb.assert_serving()
    log = sb.log_text()
    for t in TOKENS.values():
        assert t not in log
    assert SECRET not in log and WEBHOOK_SECRET not in log


def verify_webhook(call):
    h = call["headers"]
    ts = h["x-bastion-timestamp"]
    want = "v1=" + hmac.new(WEBHOOK_SECRET.encode(), b"v1:" + ts.encode() + b":" + call["raw"],
                            hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, h["x-bastion-signature"])


def test_webhook_and_teams(sb, hook, teams):
    p, req = held(sb, "sudo echo hooked")
    rid = req["id"]
    st, _ = api(sb, "POST", f"/api/requests/{rid}/approve", TOKENS["bob"], {"reason": "ok"})
    assert st == 200
    p.communicate(timeout=30)

    def events():
        evs = []
        for c in hook.calls:
            b = json.loads(c["raw"])
            if b["request"]["id"] == rid:
                evs.append((b["event"], c))
        names = [e for e, _ in evs]
        return ("request.held" in names and "request.approved" in names) and evs
    evs = hook.wait(events, what="webhook events")
    for name, c in evs:
        assert verify_webhook(c), c["headers"]
        assert c["headers"]["x-bastion-event"] == name
        body = json.loads(c["raw"])
        assert body["request"]["command"] == "sudo echo hooked"
        assert body["url"].startswith(f"http://127.0.0.1:{sb.http_port}/requests/{rid}?k=")
    # a tampered body does not verify
    c = dict(evs[0][1])
    c["raw"] = c["raw"].replace(b"hooked", b"hacked")
    assert not verify_webhook(c)

    def cards():
        out = []
        for c in teams.calls:
            b = json.loads(c["raw"])
            card = b["attachments"][0]["content"]
            if f"request {rid}" in json.dumps(card):
                out.append(b)
        return len(out) >= 2 and out
    got = teams.wait(cards, what="two Teams cards")
    for b in got:
        assert b["type"] == "message"
        att = b["attachments"][0]
        assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = att["content"]
        assert card["type"] == "AdaptiveCard"
        assert card["actions"][0]["type"] == "Action.OpenUrl"
        assert f"/requests/{rid}?k=" in card["actions"][0]["url"]
    assert "approved by bob" in json.dumps(got[-1])


def test_webhook_retried(sb, hook):
    hook.statuses += [500, 502]
    p, req = held(sb, "sudo echo retried")
    rid = req["id"]
    try:
        def delivered():
            for c in hook.calls:
                b = json.loads(c["raw"])
                if b["request"]["id"] == rid and c["status"] == 200:
                    return c
            return None
        c = hook.wait(delivered, timeout=15, what="webhook delivered after retries")
        assert verify_webhook(c)
        fails = [x for x in hook.calls if x["status"] != 200 and
                 json.loads(x["raw"])["request"]["id"] == rid]
        assert len(fails) == 2
    finally:
        api(sb, "POST", f"/api/requests/{rid}/deny", TOKENS["bob"], {})
        p.communicate(timeout=30)


def test_config_errors(world, tmp_path):
    b = world.new_bastion(start=False, approvers=APPROVERS, policy=POLICY,
                          slack={"bot_token": "xoxb-secret-value", "bot_token_env": "X",
                                 "signing_secret_env": "BASTION_TEST_UNSET_VAR",
                                 "channel": "#approvals", "api_url": "ftp://x"},
                          webhooks=[{"url": "http://127.0.0.1:1/h"}])
    r = subprocess.run([str(helpers.BASTION_BIN), "-t", "-f", str(b.config_path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 1, r
    err = r.stderr.decode()
    assert "slack.bot_token: give it inline or through bot_token_env, not both" in err, err
    assert "slack.signing_secret_env: the environment variable is not set" in err, err
    assert "slack.channel: must be a channel id" in err, err
    assert "slack.api_url: must be an http:// or https:// URL" in err, err
    assert 'slack: needs "http"' in err, err
    assert "webhooks[0].secret: is required" in err, err
    assert "xoxb-secret-value" not in err
