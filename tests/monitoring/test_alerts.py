"""Alert rules evaluated by `ferry serve`, delivered through the `webhook` alert-sink plugin to
a real local HTTP server: fired once, deduplicated, resolved, held back by the cooldown; a sink
whose host is not allow-listed gets nothing and the alert is kept and retried; drift over the
prediction log fires; malformed rules are refused by name. The `email` sink mails through a
real SMTP server (aiosmtpd) and only through a granted relay; a sink that hangs or traps is
retried with back-off and delivers exactly once when it recovers."""

import email
import email.policy
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import ROOT, Server, train_churn
from test_drift import shifted
from test_metrics import ROW, samples, scrape


def builtin_version(name):
    """The version of built-in plugin `name`, as plugins/NAME/Cargo.toml gives it."""
    for line in (ROOT / "plugins" / name / "Cargo.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError(f"plugins/{name}/Cargo.toml names no version")


class Receiver:
    """An HTTP server on loopback that keeps every JSON body POSTed to it."""

    def __init__(self):
        self.bodies = []
        self.hang = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if outer.hang:
                    time.sleep(10)
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if pred(self.bodies):
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out; received {self.bodies}")


def rules(tmp_path, ok_port, blocked_port, chat_port):
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "ops"
plugin = "webhook"
config = {{ url = "http://127.0.0.1:{ok_port}/hook" }}

[[sinks]]
name = "chat"
plugin = "slack"
config = {{ url = "http://127.0.0.1:{chat_port}/services/T0/B0/X", channel = "#ml-alerts" }}

[[sinks]]
name = "elsewhere"
plugin = "webhook"
config = {{ url = "http://127.0.0.1:{blocked_port}/hook" }}

[[rules]]
name = "slow"
model = "churn@1"
when = "p99_latency_ms > 0"
window_seconds = 2
every_seconds = 1
cooldown_seconds = 3600
severity = "critical"
sinks = ["ops", "chat"]

[[rules]]
name = "leak"
model = "churn@1"
when = "p99_latency_ms > 0"
window_seconds = 3600
every_seconds = 1
sinks = ["elsewhere"]

[[rules]]
name = "drift"
model = "churn@1"
when = "drift_share >= 0.5"
every_seconds = 1
sinks = ["ops"]

[[rules]]
name = "charges"
model = "churn@1"
when = "drifted:monthly_charges >= 1"
every_seconds = 1
sinks = ["ops"]
""")
    return path


def test_alerts_fire_dedupe_resolve_and_never_leave_for_other_hosts(tmp_path):
    ferry, reference = train_churn(tmp_path)
    ok, blocked, chat = Receiver(), Receiver(), Receiver()
    path = rules(tmp_path, ok.port, blocked.port, chat.port)
    assert "4 rule(s), 3 sink(s)" in ferry.run("alerts", "check", path).stdout
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{ok.port}",
                    "--allow-http", f"127.0.0.1:{chat.port}", "--prediction-log-segment-seconds", "1")
    try:
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        slow = lambda b: [x for x in b if x["labels"].get("rule") == "slow"]
        ok.wait(lambda b: len(slow(b)) >= 1)
        first = slow(ok.bodies)[0]
        assert first["severity"] == "critical" and first["labels"]["state"] == "firing", first
        # Still firing a second later: not sent again. Two seconds without requests: resolved.
        ok.wait(lambda b: len(slow(b)) >= 2, seconds=30)
        resolved = slow(ok.bodies)[1]
        assert resolved["title"].startswith("Resolved: ") and resolved["labels"]["state"] == "resolved", resolved
        assert resolved["labels"]["alert_id"] == first["labels"]["alert_id"]
        # The slack sink got the same two, as Slack's incoming-webhook Block Kit JSON.
        chat.wait(lambda b: len(b) >= 2)
        assert [m["channel"] for m in chat.bodies] == ["#ml-alerts", "#ml-alerts"]
        assert chat.bodies[0]["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": first["title"]}}
        assert chat.bodies[0]["text"].startswith(":red_circle: ") and chat.bodies[1]["text"].startswith(":information_source: Resolved: ")
        # Within the cooldown, the same condition does not fire again.
        requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        time.sleep(3)
        assert len(slow(ok.bodies)) == 2, slow(ok.bodies)

        # Drifted traffic: the drift rule fires from the prediction log.
        current = shifted(reference, 300, seed=9, shift=True)
        current["customer_id"] = [f"C{80000 + i}" for i in range(len(current))]
        rows = json.loads(current.drop(columns=["churned"]).to_json(orient="records"))
        for i in range(0, 300, 100):
            r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": rows[i:i + 100]}, timeout=60)
            assert r.status_code == 200, r.text
        ok.wait(lambda b: any(x["labels"].get("rule") == "drift" for x in b), seconds=40)
        drift = next(x for x in ok.bodies if x["labels"]["rule"] == "drift")
        assert "columns drifted" in drift["text"], drift
        # So does the rule on the one column whose charges moved.
        ok.wait(lambda b: any(x["labels"].get("rule") == "charges" for x in b), seconds=40)
        charges = next(x for x in ok.bodies if x["labels"]["rule"] == "charges")
        assert "monthly_charges" in charges["text"], charges
    finally:
        server.stop()
    # Nothing reached the host that was not allow-listed; the alert is kept, with the refusal.
    assert blocked.bodies == []
    listed = json.loads(ferry.run("alerts", "list", "--json").stdout)
    leak = next(a for a in listed if a["rule"] == "leak")
    assert leak["pending"] == "firing" and leak["attempts"] >= 1, leak
    assert "refused" in leak["last_error"] or "denied" in leak["last_error"], leak
    table = ferry.run("alerts", "list").stdout
    assert "leak" in table and "retrying" in table and "delivered" in table, table


def test_an_extism_sink_delivers_alerts_and_nowhere_else(tmp_path):
    # The webhook sink built as an Extism module (tests/extism/webhook), named by its file: its
    # requests go through Extism's http_request, held to the same allow-list.
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    wasm = target / "wasm-plugins" / "wasm32-unknown-unknown" / "release" / "extism_webhook.wasm"
    assert wasm.exists(), f"{wasm} is missing: `cargo test --workspace --no-run` builds it"
    ferry, _ = train_churn(tmp_path)
    ok, blocked = Receiver(), Receiver()
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "ops"
plugin = "{wasm}"
config = {{ url = "http://127.0.0.1:{ok.port}/hook" }}

[[sinks]]
name = "elsewhere"
plugin = "{wasm}"
config = {{ url = "http://127.0.0.1:{blocked.port}/hook" }}

[[rules]]
name = "slow"
model = "churn@1"
when = "p99_latency_ms > 0"
window_seconds = 3600
every_seconds = 1
severity = "critical"
sinks = ["ops", "elsewhere"]
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{ok.port}")
    try:
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        ok.wait(lambda b: len(b) >= 1)
        alert = ok.bodies[0]
        assert alert["severity"] == "critical" and alert["labels"]["rule"] == "slow", alert
        time.sleep(2)
    finally:
        server.stop()
    assert blocked.bodies == []
    listed = json.loads(ferry.run("alerts", "list", "--json").stdout)
    slow = next(a for a in listed if a["rule"] == "slow")
    assert "refused" in slow["last_error"] and f"127.0.0.1:{blocked.port}" in slow["last_error"], slow


def test_malformed_rules_are_refused_by_name(tmp_path):
    ferry, _ = train_churn(tmp_path)
    cases = {
        'when = "accuracy ~ 3"': "operator",
        'when = "happiness > 3"': "unknown measure",
        'when = "drift_share > high"': "not a number",
        'when = "drift_share > 0.5"\nsinks = ["nowhere"]': "unknown sink",
    }
    for body, needle in cases.items():
        text = '[[sinks]]\nname = "ops"\nplugin = "webhook"\n\n[[rules]]\nname = "r"\nmodel = "churn@1"\n' + body
        if "sinks =" not in body:
            text += '\nsinks = ["ops"]'
        path = tmp_path / "bad.toml"
        path.write_text(text)
        out = ferry.run("alerts", "check", path, check=False)
        assert out.returncode != 0 and needle in out.stderr and "rules[0] (r)" in out.stderr, (body, out.stderr)
        out = ferry.run("serve", "--addr", "127.0.0.1:0", "--alerts", path, check=False)
        assert out.returncode != 0 and needle in out.stderr, out.stderr


@pytest.mark.parametrize("start", ["shadow", "canary"])
def test_a_drift_alert_retrains_a_challenger_started_as_a_shadow_or_a_canary(tmp_path, start):
    ferry, reference = train_churn(tmp_path)
    ok = Receiver()
    fresh = shifted(reference, 1500, seed=21, shift=True)
    fresh["customer_id"] = [f"C{70000 + i}" for i in range(len(fresh))]
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "ops"
plugin = "webhook"
config = {{ url = "http://127.0.0.1:{ok.port}/hook" }}

[[rules]]
name = "drift"
model = "churn@1"
when = "drift_share >= 0.3"
every_seconds = 1
sinks = ["ops"]

[rules.retrain]
pipeline = "churn/pipeline.toml"
data = "fresh.csv"
deployment = "churn"
start = "{start}"
canary_weight = 50
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{ok.port}",
                    "--prediction-log-segment-seconds", "1")
    auth = {"Authorization": f"Bearer {server.admin}"}
    try:
        r = requests.post(f"{server.url}/v1/deployments", headers=auth,
                          json={"name": "churn", "spec": {"targets": [{"model": "churn", "version": "1"}]}}, timeout=30)
        assert r.status_code == 201, r.text
        rows = json.loads(fresh.head(300).drop(columns=["churned"]).to_json(orient="records"))
        for i in range(0, 300, 100):
            r = requests.post(f"{server.url}/v1/deployments/churn/predict", json={"rows": rows[i:i + 100]}, timeout=60)
            assert r.status_code == 200, r.text
        ok.wait(lambda b: any(x["labels"].get("rule") == "drift" for x in b), seconds=60)
        deadline = time.time() + 120
        shown = {}
        while time.time() < deadline:
            shown = requests.get(f"{server.url}/v1/deployments/churn", timeout=30).json()
            spec = shown.get("spec", {})
            if spec.get("shadows") or len(spec.get("targets", [])) > 1:
                break
            time.sleep(0.5)
        if start == "canary":
            # Half the traffic goes to the challenger, and it answers.
            targets = [(t["model"], t["version"], t["weight"]) for t in shown["spec"]["targets"]]
            assert targets == [("churn", "1", 50), ("churn", "2", 50)], shown
            answered = set()
            for i in range(0, 100, 5):
                r = requests.post(f"{server.url}/v1/deployments/churn/predict", json={"rows": rows[i:i + 5]}, timeout=60)
                assert r.status_code == 200, r.text
                answered.add(r.json()["version"])
            assert answered == {1, 2}, answered
        else:
            shadow = shown["spec"]["shadows"][0]
            assert (shadow["model"], shadow["version"]) == ("churn", "2"), shown
            # Requests through the deployment are now mirrored to the challenger.
            for i in range(0, 100, 20):
                r = requests.post(f"{server.url}/v1/deployments/churn/predict", json={"rows": rows[i:i + 20]}, timeout=60)
                assert r.status_code == 200 and r.json()["version"] == 1, r.text
            deadline = time.time() + 30
            while time.time() < deadline:
                status = requests.get(f"{server.url}/v1/deployments/churn", timeout=30).json()["status"]
                if status["shadows"] and status["shadows"][0]["mirrored"] >= 5:
                    break
                time.sleep(0.3)
            assert status["shadows"][0]["mirrored"] >= 5, status
    finally:
        server.stop()
    alert = next(a for a in json.loads(ferry.run("alerts", "list", "--json").stdout) if a["rule"] == "drift")
    assert "registered churn version 2" in alert["text"] and f"{start} of deployment churn" in alert["text"], alert


def test_a_sink_that_times_out_is_retried_with_back_off_until_delivered(tmp_path):
    ferry, _ = train_churn(tmp_path)
    hung = Receiver()
    hung.hang = True
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "slowpoke"
plugin = "webhook"
timeout_ms = 1000
config = {{ url = "http://127.0.0.1:{hung.port}/hook" }}

[[rules]]
name = "busy"
model = "churn@1"
when = "p99_latency_ms > 0"
every_seconds = 1
sinks = ["slowpoke"]
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{hung.port}")

    def alert():
        listed = json.loads(ferry.run("alerts", "list", "--json").stdout)
        return listed[0] if listed else None

    try:
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        deadline = time.time() + 30
        while time.time() < deadline and not (alert() or {}).get("attempts"):
            time.sleep(0.3)
        a = alert()
        assert a["pending"] == "firing" and a["attempts"] >= 1 and "deadline" in a["last_error"], a
        # Exponential back-off: the n-th failure waits 2^n seconds, so the next attempt is at
        # least the sum of those after the alert fired.
        waited = sum(min(1000 << k, 300_000) for k in range(1, a["attempts"] + 1))
        assert a["next_attempt_at"] - a["fired_at"] >= waited, a
        # The server kept serving while the sink hung.
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        hung.hang = False
        deadline = time.time() + 40
        while time.time() < deadline and alert()["pending"]:
            time.sleep(0.5)
        a = alert()
        assert a["pending"] == "" and a["notified_at"] > 0 and a["last_error"] == "", a
        assert [b["labels"]["rule"] for b in hung.bodies] == ["busy"]
    finally:
        server.stop()


def test_a_retry_goes_only_to_the_sink_that_failed(tmp_path):
    ferry, _ = train_churn(tmp_path)
    ok, hung = Receiver(), Receiver()
    hung.hang = True
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "ops"
plugin = "webhook"
config = {{ url = "http://127.0.0.1:{ok.port}/hook" }}

[[sinks]]
name = "slowpoke"
plugin = "webhook"
timeout_ms = 1000
config = {{ url = "http://127.0.0.1:{hung.port}/hook" }}

[[rules]]
name = "busy"
model = "churn@1"
when = "p99_latency_ms > 0"
every_seconds = 1
sinks = ["ops", "slowpoke"]
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{ok.port}",
                    "--allow-http", f"127.0.0.1:{hung.port}")

    def alert():
        listed = json.loads(ferry.run("alerts", "list", "--json").stdout)
        return listed[0] if listed else None

    try:
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        deadline = time.time() + 30
        while time.time() < deadline and (alert() or {}).get("attempts", 0) < 2:
            time.sleep(0.3)
        a = alert()
        assert a["attempts"] >= 2 and a["delivered"] == ["ops"], a
        hung.hang = False
        deadline = time.time() + 40
        while time.time() < deadline and alert()["pending"]:
            time.sleep(0.5)
        assert alert()["pending"] == ""
        # Each sink heard of the firing once, however often the other was retried.
        assert [b["labels"]["rule"] for b in ok.bodies] == ["busy"], ok.bodies
        assert [b["labels"]["rule"] for b in hung.bodies] == ["busy"], hung.bodies
    finally:
        server.stop()


def test_rules_managed_through_the_api_are_checked_audited_and_evaluated(tmp_path):
    ferry, _ = train_churn(tmp_path)
    ok = Receiver()
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "ops"
plugin = "webhook"
config = {{ url = "http://127.0.0.1:{ok.port}/hook" }}
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{ok.port}")
    reader = ferry.run("token", "create", "viewer", "--role", "reader").stdout.strip()
    deployer = ferry.run("token", "create", "oncall", "--role", "deployer").stdout.strip()
    url = f"{server.url}/v1/alerts/rules/api-slow"
    rule = {"model": "churn@1", "when": "p99_latency_ms > 0", "every_seconds": 1, "sinks": ["ops"]}
    try:
        assert requests.put(url, json=rule, timeout=30).status_code == 401
        assert requests.put(url, json=rule, headers={"Authorization": f"Bearer {reader}"}, timeout=30).status_code == 403
        as_deployer = {"Authorization": f"Bearer {deployer}"}
        for bad, needle in [
            (dict(rule, sinks=["pager"]), "unknown sink"),
            (dict(rule, when="p99_latency_ms >> 3"), "operator"),
            (dict(rule, retrain={"pipeline": "/etc/passwd"}), "retrain"),
            (dict(rule, name="other"), "differs"),
            (dict(rule, colour="red"), "unknown field"),
        ]:
            r = requests.put(url, json=bad, headers=as_deployer, timeout=30)
            assert r.status_code == 422 and needle in r.text, (bad, r.text)
        r = requests.put(url, json=rule, headers=as_deployer, timeout=30)
        assert r.status_code == 200, r.text
        listed = requests.get(f"{server.url}/v1/alerts/rules", timeout=30).json()
        assert [x["name"] for x in listed["api"]] == ["api-slow"] and listed["sinks"] == [{"name": "ops", "plugin": "webhook"}]

        requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        ok.wait(lambda b: any(x["labels"].get("rule") == "api-slow" for x in b))
        alerts = requests.get(f"{server.url}/v1/alerts", timeout=30).json()
        assert alerts[0]["rule"] == "api-slow" and alerts[0]["state"] == "firing", alerts

        assert requests.delete(url, headers=as_deployer, timeout=30).status_code == 200
        assert requests.delete(url, headers=as_deployer, timeout=30).status_code == 404
        audit = requests.get(f"{server.url}/v1/audit?limit=100", headers={"Authorization": f"Bearer {server.admin}"}, timeout=30).json()
        actions = [(a["action"], a["outcome"]) for a in audit if a["action"].startswith("alert_rule.")]
        assert ("alert_rule.put", "ok") in actions and ("alert_rule.put", "denied") in actions and ("alert_rule.delete", "ok") in actions, actions
    finally:
        server.stop()
    bare = tmp_path / "bare"
    bare.mkdir()
    ferry2, _ = train_churn(bare)
    server = Server(ferry2, bare)
    try:
        r = requests.put(f"{server.url}/v1/alerts/rules/x", json=rule, headers={"Authorization": f"Bearer {server.admin}"}, timeout=30)
        assert r.status_code == 409 and "--alerts" in r.text, r.text
    finally:
        server.stop()


class Mailbox:
    """An SMTP server on loopback (aiosmtpd) that keeps every message, requiring AUTH LOGIN or
    PLAIN as `alerts` / `s3cret` when `auth` is set."""

    def __init__(self, auth=False):
        self.messages = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append({
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "authenticated": bool(session.authenticated),
                    "message": email.message_from_bytes(envelope.content, policy=email.policy.default),
                })
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == b"s3cret"
            return AuthResult(success=ok)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        options = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False) if auth else {}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def wait(self, count, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline and len(self.messages) < count:
            time.sleep(0.2)
        assert len(self.messages) >= count, f"timed out with {len(self.messages)} messages"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_email_sink_mails_through_a_granted_relay_and_nowhere_else(tmp_path):
    ferry, _ = train_churn(tmp_path)
    granted, elsewhere = Mailbox(auth=True), Mailbox()
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "mail"
plugin = "email"
config = {{ relay = "127.0.0.1:{granted.port}", from = "Ferry <ferry@example.com>", to = ["ops@example.com", "ml@example.com"] }}

[[sinks]]
name = "mail-elsewhere"
plugin = "email"
config = {{ relay = "127.0.0.1:{elsewhere.port}", from = "ferry@example.com", to = ["ops@example.com"] }}

[[rules]]
name = "slow"
model = "churn@1"
when = "p99_latency_ms > 0"
window_seconds = 2
every_seconds = 1
cooldown_seconds = 3600
severity = "critical"
sinks = ["mail"]

[[rules]]
name = "leak"
model = "churn@1"
when = "p99_latency_ms > 0"
window_seconds = 3600
every_seconds = 1
sinks = ["mail-elsewhere"]
""")
    # The password reaches the host from the environment, never the command line or the plugin.
    ferry.env["FERRY_SMTP_PASSWORD"] = "s3cret"
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-smtp", f"smtp://alerts@127.0.0.1:{granted.port}")
    try:
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        # Fired, then resolved two seconds later: two messages, each authenticated.
        granted.wait(2)
        fired, resolved = granted.messages[:2]
        for m in (fired, resolved):
            assert m["from"] == "ferry@example.com" and m["to"] == ["ops@example.com", "ml@example.com"], m
            assert m["authenticated"], m
            msg = m["message"]
            assert msg["X-Ferry-Plugin"] == f"email@{builtin_version('email')}" and msg["Message-ID"] and msg["Date"], dict(msg)
            assert msg["From"] == "Ferry <ferry@example.com>" and msg.get_content_type() == "multipart/alternative"
        msg = fired["message"]
        assert msg["Subject"].startswith("[ferry] CRITICAL: "), msg["Subject"]
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert "rule: slow" in text and "state: firing" in text and "Source: ferry/alerts/slow" in text, text
        alert_id = next(line.split(": ")[1] for line in text.splitlines() if line.startswith("alert_id: "))
        assert "<table>" in html and alert_id in html
        msg = resolved["message"]
        assert msg["Subject"].startswith("[ferry] INFO: Resolved: "), msg["Subject"]
        assert f"alert_id: {alert_id}" in msg.get_body(("plain",)).get_content()
    finally:
        server.stop()
        granted.stop()
        elsewhere.stop()
    # Nothing reached the relay that was not granted; that alert is kept, with the refusal.
    assert elsewhere.messages == []
    listed = json.loads(ferry.run("alerts", "list", "--json").stdout)
    leak = next(a for a in listed if a["rule"] == "leak")
    assert leak["pending"] == "firing" and leak["attempts"] >= 1, leak
    assert f"SMTP relay 127.0.0.1:{elsewhere.port} (not on the plugin's allow-list)" in leak["last_error"], leak
    assert "s3cret" not in server.log_path.read_text()


def test_a_bad_smtp_grant_is_refused_by_name(tmp_path):
    ferry, _ = train_churn(tmp_path)
    path = tmp_path / "alerts.toml"
    path.write_text("""
[[sinks]]
name = "mail"
plugin = "email"
config = { relay = "127.0.0.1:25", from = "ferry@example.com", to = ["ops@example.com"] }
""")
    for grant, needle in [
        ("http://127.0.0.1:25", "unknown scheme"),
        ("smtps://bot@127.0.0.1", "FERRY_SMTP_PASSWORD"),
        ("smtp://127.0.0.1?tls=sometimes", "tls=required"),
    ]:
        out = ferry.run("serve", "--addr", "127.0.0.1:0", "--alerts", path, "--allow-smtp", grant, check=False)
        assert out.returncode != 0 and f"--allow-smtp \"{grant}\"" in out.stderr and needle in out.stderr, out.stderr


def hostile_sink():
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    path = Path(target) / "wasm-plugins" / "wasm32-wasip2" / "release" / "guest_hostile_sink.wasm"
    assert path.exists(), f"{path}: built by `cargo test` (tests/build.rs)"
    return path


def test_a_sink_that_traps_is_retried_and_delivers_exactly_once_when_it_recovers(tmp_path):
    ferry, _ = train_churn(tmp_path)
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    (ctl / "trap").write_text("")
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "fragile"
plugin = "{hostile_sink()}"
config = {{ do = "trap-while-flagged" }}

[[rules]]
name = "busy"
model = "churn@1"
when = "p99_latency_ms > 0"
window_seconds = 3600
every_seconds = 1
sinks = ["fragile"]
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-dir", f"/ctl={ctl}")

    def alert():
        listed = json.loads(ferry.run("alerts", "list", "--json").stdout)
        return listed[0] if listed else {}

    try:
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        deadline = time.time() + 30
        while time.time() < deadline and alert().get("attempts", 0) < 2:
            time.sleep(0.3)
        a = alert()
        assert a["pending"] == "firing" and a["attempts"] >= 2, a
        assert "panicked while /ctl/trap exists" in a["last_error"], a
        traps = samples(scrape(server), "ferry_plugin_failures", "ferry_plugin_failures_total",
                        plugin="hostile-sink@0.1.0", failure="trap")
        assert traps and traps[0] >= 2, traps
        # The server kept serving while the sink trapped.
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": [ROW]}, timeout=30)
        assert r.status_code == 200
        (ctl / "trap").unlink()
        deadline = time.time() + 40
        while time.time() < deadline and alert()["pending"]:
            time.sleep(0.5)
        a = alert()
        assert a["pending"] == "" and a["notified_at"] > 0 and a["last_error"] == "", a
        delivered = sorted(p.name for p in (ctl / "delivered").iterdir())
        assert delivered == [f"{a['id']}-firing.json"], delivered
    finally:
        server.stop()


def test_live_accuracy_falling_below_a_value_and_by_a_delta_fires(tmp_path):
    ferry, reference = train_churn(tmp_path)
    ok = Receiver()
    path = tmp_path / "alerts.toml"
    path.write_text(f"""
[[sinks]]
name = "ops"
plugin = "webhook"
config = {{ url = "http://127.0.0.1:{ok.port}/hook" }}

[[rules]]
name = "accuracy"
model = "churn@1"
when = "accuracy < 0.5"
every_seconds = 1
sinks = ["ops"]

[[rules]]
name = "auc-drop"
model = "churn@1"
when = "roc_auc_drop > 0.2"
every_seconds = 1
sinks = ["ops"]

[[rules]]
name = "never"
model = "churn@1"
when = "accuracy_drop > 2"
every_seconds = 1
sinks = ["ops"]
""")
    server = Server(ferry, tmp_path, "--alerts", path, "--allow-http", f"127.0.0.1:{ok.port}",
                    "--prediction-log-segment-seconds", "1")
    auth = {"Authorization": f"Bearer {server.admin}"}
    try:
        rows = json.loads(reference.head(80).drop(columns=["churned"]).to_json(orient="records"))
        r = requests.post(f"{server.url}/v1/models/churn/1/predict", json={"rows": rows}, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        predicted = [p["prediction"] for p in body["predictions"]]
        assert set(predicted) == {"yes", "no"}, predicted
        time.sleep(1.5)
        # Every label contradicts its prediction: live accuracy 0, live ROC AUC 0.
        labels = [{"request_id": body["request_id"], "row": i, "label": "no" if p == "yes" else "yes"}
                  for i, p in enumerate(predicted)]
        r = requests.post(f"{server.url}/v1/models/churn/versions/1/feedback", json={"labels": labels},
                          headers=auth, timeout=30)
        assert r.status_code == 202, r.text
        fired = lambda b: {x["labels"]["rule"] for x in b}
        ok.wait(lambda b: {"accuracy", "auc-drop"} <= fired(b), seconds=40)
        by_rule = {x["labels"]["rule"]: x for x in ok.bodies}
        assert "accuracy" in by_rule["accuracy"]["text"] and "0.0000" in by_rule["accuracy"]["text"], by_rule
        assert "roc_auc" in by_rule["auc-drop"]["text"], by_rule
        time.sleep(2)
        assert "never" not in fired(ok.bodies), ok.bodies
    finally:
        server.stop()
