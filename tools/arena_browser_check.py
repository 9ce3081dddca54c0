#!/usr/bin/env python3
"""Drives the local arena in a real browser (Debian's chromium, headless) through the DevTools
protocol, with Python's standard library only (a minimal websocket client below): types a prompt,
waits for both answers to stream in (it checks that text appeared before the answers finished),
votes, checks the reveal and the leaderboard, and saves a screenshot of each page.

Usage: python3 tools/arena_browser_check.py --erank build/erank --out DIR [--models M] [--vote W]
Exit 0: passed; 77: no chromium (the test skips); anything else: failed, with the reason.
The server runs on a free loopback port with a fresh database in DIR.
"""
import argparse
import base64
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, client masking."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake failed: " + head.decode(errors="replace"))

    def send(self, text):
        data = text.encode()
        hdr = bytes([0x81])
        n = len(data)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("websocket closed")
            buf += chunk
        return buf

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            op = b0 & 0x0F
            if op == 0x9:  # ping: ignore (chromium does not ping its clients)
                continue
            msg += payload
            if b0 & 0x80:
                return msg.decode()


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error in {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout, what):
        t0 = time.time()
        while time.time() - t0 < timeout:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.05)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}")

    def goto(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", 30, f"{url} to load")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def find_chromium():
    for name in ["chromium", "chromium-browser", "google-chrome"]:
        p = shutil.which(name)
        if p:
            return p
    return None


def launch_chromium(chrome, profile, size):
    """Starts headless chromium with its DevTools port on `profile` and returns (process, Page)
    on its first tab. `size` is "W,H"."""
    browser = subprocess.Popen([chrome, "--headless=new", "--no-sandbox", "--disable-gpu",
                                "--no-first-run", "--no-default-browser-check",
                                "--disable-extensions", "--disable-dev-shm-usage",
                                f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                f"--window-size={size}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    active = os.path.join(profile, "DevToolsActivePort")
    t0 = time.time()
    while not (os.path.exists(active) and open(active).read().count("\n") >= 1):
        if time.time() - t0 > 60:
            raise RuntimeError("chromium did not open its DevTools port")
        time.sleep(0.1)
    cdp_port = open(active).read().split("\n")[0].strip()
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{cdp_port}/json/list"))
    ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    page = Page(WebSocket(ws_url))
    page.call("Page.enable")
    return browser, page


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--erank", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="alpha=smollm2-135m,beta=smollm2-135m")
    ap.add_argument("--max-new-tokens", default="40")
    ap.add_argument("--vote", default="vote-a")
    ap.add_argument("--prompt", default="Name three colours of the rainbow. <b>not bold</b>")
    args = ap.parse_args()
    chrome = find_chromium()
    if not chrome:
        print("no chromium: skipped")
        return 77
    os.makedirs(args.out, exist_ok=True)
    db = os.path.join(args.out, "arena.sqlite")
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    port_file = os.path.join(args.out, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    server = subprocess.Popen([args.erank, "arena", "serve", "--models", args.models, "--db", db,
                               "--port", "0", "--port-file", port_file, "--max-new-tokens",
                               args.max_new_tokens, "--threads", "1", "--seed", "3"],
                              stderr=open(os.path.join(args.out, "server.log"), "w"))
    profile = tempfile.mkdtemp(prefix="erank-chromium-")
    browser = None
    try:
        t0 = time.time()
        while not os.path.exists(port_file):
            if server.poll() is not None:
                raise RuntimeError("the server exited: " + open(os.path.join(args.out, "server.log")).read())
            if time.time() - t0 > 120:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        base = f"http://127.0.0.1:{open(port_file).read().strip()}"
        browser, page = launch_chromium(chrome, profile, "1200,900")
        page.call("Runtime.enable")

        page.goto(base + "/")
        page.screenshot(os.path.join(args.out, "1-arena-empty.png"))
        page.js(f"document.getElementById('prompt').value = {json.dumps(args.prompt)}; "
                "document.getElementById('ask').click(); true")
        # Streaming: some text shows while the answers are still being generated.
        page.wait("document.body.classList.contains('streaming') && "
                  "(document.getElementById('answer-a').textContent.length > 0 || "
                  "document.getElementById('answer-b').textContent.length > 0)", 120,
                  "the first streamed text")
        streamed_early = page.js("!document.body.classList.contains('answered')")
        page.screenshot(os.path.join(args.out, "2-arena-streaming.png"))
        page.wait("document.body.classList.contains('answered')", 300, "both answers")
        answers = page.js("[document.getElementById('answer-a').textContent, "
                          "document.getElementById('answer-b').textContent]")
        hidden = page.js("[document.getElementById('name-a').textContent, "
                         "document.getElementById('name-b').textContent]")
        page.screenshot(os.path.join(args.out, "3-arena-answered.png"))
        if hidden != ["Model A", "Model B"]:
            raise RuntimeError(f"names shown before the vote: {hidden}")
        if not all(a.strip() for a in answers):
            raise RuntimeError(f"an empty answer: {answers}")
        page.js(f"document.getElementById({json.dumps(args.vote)}).click(); true")
        page.wait("document.body.classList.contains('revealed')", 30, "the reveal")
        names = page.js("[document.getElementById('name-a').textContent, "
                        "document.getElementById('name-b').textContent]")
        status = page.js("document.getElementById('status').textContent")
        page.screenshot(os.path.join(args.out, "4-arena-revealed.png"))
        injected = page.js("document.querySelectorAll('#answer-a *, #answer-b *, b').length")

        page.goto(base + "/leaderboard")
        page.wait("document.body.dataset.loaded === '1'", 30, "the leaderboard")
        page.wait("document.getElementById('forest').complete && "
                  "document.getElementById('forest').naturalWidth > 0", 30, "the forest plot")
        rows = page.js("[...document.querySelectorAll('#board tbody tr')].map("
                       "r => [...r.children].map(c => c.textContent))")
        page.screenshot(os.path.join(args.out, "5-leaderboard.png"))

        con = sqlite3.connect(db)
        stored = con.execute("SELECT b.model_a, b.model_b, v.winner, b.prompt FROM votes v "
                             "JOIN battles b ON b.id = v.battle").fetchall()
        con.close()
        result = {"streamed_before_done": streamed_early, "answers": answers, "revealed": names,
                  "status": status, "leaderboard": rows, "stored": stored,
                  "elements_inside_answers": injected}
        print(json.dumps(result, indent=1))
        want = {"vote-a": "model_a", "vote-b": "model_b", "vote-tie": "tie",
                "vote-bad": "tie (bothbad)"}[args.vote]
        if len(stored) != 1 or stored[0][2] != want or stored[0][3] != args.prompt:
            raise RuntimeError(f"database holds {stored}")
        labels = [m.split("=")[0] for m in args.models.split(",")]
        if not (names[0].startswith("A: ") and names[1].startswith("B: ")
                and names[0][3:] in labels and names[1][3:] in labels):
            raise RuntimeError(f"bad reveal: {names}")
        if [names[0][3:], names[1][3:]] != [stored[0][0], stored[0][1]]:
            raise RuntimeError("the reveal does not match the stored battle")
        if len(rows) != 2 or any(r[5] != "1" for r in rows):
            raise RuntimeError(f"bad leaderboard rows: {rows}")
        if injected:
            raise RuntimeError("markup from the prompt or an answer became elements")
        return 0
    finally:
        if browser:
            browser.kill()
            browser.wait()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print("arena browser check failed:", e, file=sys.stderr)
        sys.exit(1)
