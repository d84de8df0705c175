#!/usr/bin/env python3
"""The client half of `make test-image`: talk to a running Cadence like an app would.

usage: image-test-client.py BASE_URL SPEECH_RAW

Registers a user, creates an agent on the local engines (echo LLM, PocketSphinx, eSpeak NG),
opens a voice session over REST and holds it over the WebSocket: a typed turn, then the
spoken audio in SPEECH_RAW (16 kHz mono s16le, "please add a task to buy milk tomorrow"),
then `end`. Checks that a final response and eSpeak audio frames come back for each turn,
that PocketSphinx heard the words, and that the call is completed afterwards. Python's
standard library only (a minimal RFC 6455 client). Every wait has a deadline; exit 1 with
the reason on any failure.
"""

import base64
import json
import os
import secrets
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DEADLINE_S = 60


def fail(msg):
    print(f"FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def api(base, method, path, body=None, token=None, expect=200):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    if status != expect:
        fail(f"{method} {path}: expected {expect}, got {status}: {text[:500]}")
    return json.loads(text) if text else None


class WebSocket:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "ws":
            fail(f"expected a ws:// URL, got {url}")
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + (f"?{u.query}" if u.query else "")
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                fail("the WebSocket handshake was cut off")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in status + " ":
            fail(f"WebSocket upgrade refused: {status}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_json(self, value):
        self.send(0x1, json.dumps(value).encode())

    def recv(self, deadline):
        """One message: ("text", str) | ("binary", bytes) | ("close", b"")."""
        message, kind = b"", None
        while True:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            b0, b1 = self._read(2)
            opcode, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self.send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                return "close", payload
            if opcode in (0x1, 0x2):
                kind = "text" if opcode == 0x1 else "binary"
            message += payload
            if fin:
                return kind, message.decode() if kind == "text" else message


def read_until(ws, stop):
    """Events and audio bytes until `stop(event)`; marks are echoed as a player would."""
    events, audio = [], 0
    deadline = time.monotonic() + DEADLINE_S
    while True:
        if time.monotonic() > deadline:
            fail(f"no matching event within {DEADLINE_S} s; saw {[e['type'] for e in events]}")
        try:
            kind, data = ws.recv(deadline)
        except (socket.timeout, TimeoutError):
            continue
        except EOFError:
            fail(f"the server closed the socket; saw {events}")
        if kind == "binary":
            audio += len(data)
        elif kind == "close":
            fail(f"the server closed the session; saw {events}")
        else:
            event = json.loads(data)
            events.append(event)
            if event.get("type") == "error":
                fail(f"the server sent an error: {event}")
            if event.get("type") == "mark":
                ws.send_json({"type": "mark", "name": event["name"]})
            if stop(event):
                return events, audio


def final_of(events, kind):
    return next((e for e in events if e.get("type") == kind and e.get("final")), None)


def main(base, speech_path):
    started = time.monotonic()
    email = f"image-test-{secrets.token_hex(6)}@example.com"
    pair = api(base, "POST", "/api/v1/auth/register",
               {"email": email, "password": secrets.token_urlsafe(18), "full_name": "Image Test"},
               expect=201)
    token = pair["access_token"]
    if pair["user"]["email"] != email:
        fail(f"register answered another user: {pair['user']}")
    me = api(base, "GET", "/api/v1/users/me", token=token)
    print(f"registered {me['email']} ({me['id']})")

    agent = api(base, "POST", "/api/v1/agents", {
        "name": "Image test", "system_prompt": "You are a test agent.", "welcome_message": None,
        "llm": {"provider": "echo", "fallbacks": []},
        "stt": {"provider": "pocketsphinx", "fallbacks": []},
        "tts": {"provider": "espeak", "fallbacks": []},
    }, token=token, expect=201)
    session = api(base, "POST", "/api/v1/voice/sessions", {"agent_id": agent["id"]}, token=token, expect=201)
    if session["audio"] != {"encoding": "pcm_s16le", "sample_rate": 16000, "channels": 1}:
        fail(f"unexpected audio format {session['audio']}")
    ws = WebSocket(session["ws_url"])
    events, _ = read_until(ws, lambda e: e["type"] == "ready")
    if events[-1].get("call_id") != session["call_id"]:
        fail(f"ready names another call: {events[-1]}")

    # A typed turn: echo answers, eSpeak NG speaks the answer.
    ws.send_json({"type": "text", "text": "hello from the image test"})
    events, audio = read_until(ws, lambda e: e["type"] == "metrics")
    reply = final_of(events, "response")
    if not reply or reply["text"] != "You said: hello from the image test":
        fail(f"typed turn: no final response with the echo; saw {events}")
    if audio < 16000:
        fail(f"typed turn: only {audio} bytes of audio came back")
    print(f"typed turn: {reply['text']!r}, {audio} bytes of speech")

    # A spoken turn: PocketSphinx inside the image hears the audio.
    with open(speech_path, "rb") as f:
        speech = f.read()
    pcm = bytes(2 * 4800) + speech + bytes(2 * 24000)  # 0.3 s silence, speech, 1.5 s silence
    frame = 640  # 20 ms at 16 kHz, s16le
    for i in range(0, len(pcm), frame):
        ws.send(0x2, pcm[i:i + frame])
    events, audio = read_until(ws, lambda e: e["type"] == "metrics")
    heard = final_of(events, "transcript")
    heard_text = heard["text"] if heard else ""
    for word in ("milk", "tomorrow"):
        if word not in heard_text:
            fail(f"spoken turn: {word!r} not in what PocketSphinx heard ({heard_text!r}); saw {events}")
    reply = final_of(events, "response")
    if not reply or not reply["text"].startswith("You said:"):
        fail(f"spoken turn: no final response; saw {events}")
    if audio < 16000:
        fail(f"spoken turn: only {audio} bytes of audio came back")
    print(f"spoken turn: heard {heard_text!r}, answered {reply['text']!r}, {audio} bytes of speech")

    ws.send_json({"type": "end"})
    events, _ = read_until(ws, lambda e: e["type"] == "ended")
    if events[-1].get("reason") != "client_ended":
        fail(f"ended for another reason: {events[-1]}")
    deadline = time.monotonic() + DEADLINE_S
    while True:
        call = api(base, "GET", f"/api/v1/calls/{session['call_id']}", token=token)
        if call["status"] == "completed":
            break
        if time.monotonic() > deadline:
            fail(f"the call never completed: {call}")
        time.sleep(0.2)
    print(f"call {call['id']} completed ({call['end_reason']}); client took {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail(__doc__.splitlines()[2])
    main(sys.argv[1].rstrip("/"), sys.argv[2])
