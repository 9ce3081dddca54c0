#!/usr/bin/env python3
"""Load and crash test of `erank arena serve` on loopback (Python standard library only).

N concurrent simulated voters (threads) each loop: ask (POST /api/battle), read the answer stream
to its end, vote (POST /api/vote). The players are `echo` test doubles, so this measures the
serving and storage path, not model time. Midway the server is killed with SIGKILL and started
again on the same port and database; voters retry through the outage. At the end every vote the
server acknowledged (HTTP 200) must be in the database with its winner.

Usage: python3 bench/arena_load.py --erank build/erank [--voters 20] [--votes 1000]
       [--kill-at 0.5] [--out DIR]
Prints one JSON object; exit 0 when no acknowledged vote is missing.
"""
import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def start(erank, db, port, out):
    port_file = os.path.join(out, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    p = subprocess.Popen([erank, "arena", "serve", "--models", "a=echo,b=echo,c=echo,d=echo",
                          "--db", db, "--port", str(port), "--port-file", port_file,
                          "--bootstrap", "20"],
                         stderr=open(os.path.join(out, "server.log"), "a"))
    t0 = time.time()
    while not os.path.exists(port_file):
        if p.poll() is not None:
            raise RuntimeError("server exited: " + open(os.path.join(out, "server.log")).read())
        if time.time() - t0 > 60:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return p, int(open(port_file).read())


def request(port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--erank", required=True)
    ap.add_argument("--voters", type=int, default=20)
    ap.add_argument("--votes", type=int, default=1000)
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction of votes; 0: no kill")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="erank-arena-load-")
    os.makedirs(out, exist_ok=True)
    db = os.path.join(out, "load.sqlite")
    for s in ["", "-wal", "-shm"]:
        if os.path.exists(db + s):
            os.remove(db + s)
    state = {"proc": None, "port": 0}
    state["proc"], state["port"] = start(args.erank, db, 0, out)
    port = state["port"]

    lock = threading.Lock()
    acked = []            # (battle, winner) with a 200 reply
    latencies = []        # seconds per vote request
    errors = {"connection": 0, "http": {}}
    stop = threading.Event()
    killed = {"at_acked": None, "in_db_after_kill": None, "restart_s": None}

    def voter(k):
        rng = random.Random(k)
        n = 0
        while not stop.is_set():
            try:
                st, body = request(port, "POST", "/api/battle", {"prompt": f"voter {k} prompt {n}"})
                if st != 200:
                    with lock:
                        errors["http"][st] = errors["http"].get(st, 0) + 1
                    time.sleep(0.05)
                    continue
                battle = json.loads(body)["battle"]
                st, _ = request(port, "GET", f"/api/battle/{battle}/stream")
                if st != 200:
                    with lock:
                        errors["http"][st] = errors["http"].get(st, 0) + 1
                    continue
                winner = rng.choice(["model_a", "model_b", "tie", "tie (bothbad)"])
                t0 = time.time()
                st, body = request(port, "POST", "/api/vote", {"battle": battle, "winner": winner})
                dt = time.time() - t0
                with lock:
                    if st == 200:
                        if len(acked) >= args.votes:
                            stop.set()
                            return
                        acked.append((battle, winner))
                        latencies.append(dt)
                        if len(acked) >= args.votes:
                            stop.set()
                    else:
                        errors["http"][st] = errors["http"].get(st, 0) + 1
                n += 1
            except (ConnectionError, OSError, http.client.HTTPException):
                with lock:
                    errors["connection"] += 1
                time.sleep(0.05)

    t_start = time.time()
    threads = [threading.Thread(target=voter, args=(k,)) for k in range(args.voters)]
    for t in threads:
        t.start()
    if args.kill_at > 0:
        while len(acked) < int(args.votes * args.kill_at) and not stop.is_set():
            time.sleep(0.005)
        state["proc"].send_signal(signal.SIGKILL)
        state["proc"].wait()
        with lock:
            killed["at_acked"] = len(acked)
            acked_at_kill = list(acked)
        con = sqlite3.connect(db)
        killed["in_db_after_kill"] = con.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
        have = dict(con.execute("SELECT battle, winner FROM votes").fetchall())
        con.close()
        killed["lost_at_kill"] = sum(1 for b, w in acked_at_kill if have.get(b) != w)
        t0 = time.time()
        state["proc"], _ = start(args.erank, db, port, out)
        killed["restart_s"] = round(time.time() - t0, 3)
    for t in threads:
        t.join()
    wall = time.time() - t_start
    state["proc"].send_signal(signal.SIGTERM)
    state["proc"].wait(timeout=30)

    con = sqlite3.connect(db)
    have = dict(con.execute("SELECT battle, winner FROM votes").fetchall())
    n_db = con.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    n_battles = con.execute("SELECT COUNT(*) FROM battles").fetchone()[0]
    con.close()
    lost = [(b, w) for b, w in acked if have.get(b) != w]
    latencies.sort()
    res = {"voters": args.voters, "votes_acked": len(acked), "votes_in_db": n_db,
           "battles_in_db": n_battles, "lost_acked_votes": len(lost), "kill": killed,
           "wall_s": round(wall, 2), "votes_per_s": round(len(acked) / wall, 1),
           "vote_latency_ms": {"p50": round(1000 * latencies[len(latencies) // 2], 2),
                               "p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2)},
           "client_errors": errors, "db": db}
    print(json.dumps(res, indent=1))
    return 0 if not lost and len(acked) >= args.votes else 1


if __name__ == "__main__":
    sys.exit(main())
