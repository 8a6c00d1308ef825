#!/usr/bin/env python3
"""Soak: run the real server for a while under the abuse a long-lived deployment sees, and check it holds.

    .venv/bin/python scripts/soak.py [--minutes 10] [--cameras 4] [--kill-every 180] [--binary target/debug/panoptes]

For the given duration:
  * N file cameras (the demo clip, looped) with an intrusion rule over the whole picture, so events keep coming;
  * WebSocket clients that connect to /ws/live and /ws/overlay, read nothing, and are dropped after 20-40 s
    (slow and disconnecting clients), plus one alert client that reads;
  * API churn: a camera added and removed every 15 s;
  * every --kill-every seconds, `kill -9` of the server and a restart on the same store.
It reads the server's RSS every second and prints, every 10 s, the least RSS of those 10 s with the open file
descriptors and threads. It checks that every event id seen is
still served after each restart (nothing committed is lost) and that the API answers throughout.

It prints a table of samples and a summary: RSS growth after warm-up (each whole minute's least RSS after the
first 2 minutes of a server life, from 60 one-second readings; the median of the second half of those minutes against the first half), fds
and threads min/max. Exit status 1 when an event was lost,
the server stopped answering, or RSS grew 5 % or more after warm-up within one server life.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "soak-admin-token-0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(port, store, cameras):
    cams = "".join(
        f"""
[[cameras]]
id = "cam{i}"
file = "var/media/vtest-h264.mp4"
detect_fps = 2
classes = ["person"]
zones = [{{ id = "all", polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]] }}]
rules = [{{ id = "in", kind = "intrusion", zone = "all", classes = ["person"] }}]
"""
        for i in range(cameras)
    )
    return f"""[server]
listen = "127.0.0.1:{port}"
[model]
path = "var/models/yolov3-tiny-coco.onnx"
[[devices]]
id = "cpu0"
intra_threads = 1
max_batch = 4
[store]
path = "{store}/panoptes.db"
snapshot_dir = "{store}/snapshots"
[recording]
enabled = true
dir = "{store}/recordings"
retain_hours = 1
{cams}"""


class Server:
    def __init__(self, binary, config_path, port):
        self.binary, self.config_path, self.port, self.proc = binary, config_path, port, None

    def start(self):
        env = dict(os.environ, PANOPTES_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [self.binary, "run", "--config", self.config_path],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("soak: the server did not start within 120 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def get(self, path):
        return self.request("GET", path)

    def sample(self):
        pid = self.proc.pid
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        rss_mib = int(fields["VmRSS"].split()[0]) / 1024
        threads = int(fields["Threads"])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss_mib, fds, threads


def stalled_ws(port, path):
    """A WebSocket client that completes the handshake and then reads nothing."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(
        (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         f"Authorization: Bearer {TOKEN}\r\n\r\n").encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s


def all_event_ids(server):
    ids, after = set(), 0
    while True:
        page = server.get(f"/api/events?after_id={after}&limit=1000")
        ids.update(e["id"] for e in page["events"])
        if page["next_after_id"] is None:
            return ids
        after = page["next_after_id"]


def levels_of(life):
    """Each whole minute's least RSS after the first two minutes of a server life (RSS swings by tens of MiB
    with the frames in flight; the least of a minute is its level). Minutes with fewer than 4 rows (each the
    least of 10 one-second readings) are left out."""
    minutes = {}
    for r in life:
        if r[7] >= 120:
            minutes.setdefault(int(r[7] // 60), []).append(r[2])
    return [min(v) for _, v in sorted(minutes.items()) if len(v) >= 4]


def summarize(lives):
    """Print each life's RSS levels and growth; the worst growth in %. Growth compares the median level of the
    second half of the judged minutes with that of the first half."""
    worst = 0.0
    for i, life in enumerate(lives, 1):
        levels = levels_of(life)
        if len(levels) < 2:
            print(f"  life {i}: too short to judge growth (needs 2 whole minutes past the first 2)")
            continue
        half = len(levels) // 2
        first, second = sorted(levels[:half]), sorted(levels[half:])
        a, b = first[len(first) // 2], second[len(second) // 2]
        growth = (b - a) / a * 100
        worst = max(worst, growth)
        print(f"  life {i}: RSS level {a:.0f} → {b:.0f} MiB (median of each half of {len(levels)} judged minutes), "
              f"{growth:+.1f} %; per-minute least RSS: {', '.join(f'{v:.0f}' for v in levels)}")
    return worst


def summarize_log(path):
    """The summary of a run from its printed table (`--summarize LOG`)."""
    lives, starts = {}, {}
    for line in open(path):
        parts = line.split()
        if len(parts) != 7 or not parts[0].replace(".", "").isdigit():
            continue
        t, life, rss = float(parts[0]), int(parts[1]), float(parts[2])
        starts.setdefault(life, t)
        lives.setdefault(life, []).append((t, life, rss, 0, 0, 0, 0, t - starts[life]))
    return summarize([lives[k] for k in sorted(lives)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--kill-every", type=float, default=180, help="seconds between kill -9s (0: never)")
    ap.add_argument("--clients", type=int, default=10, help="stalled WebSocket clients kept open")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/debug/panoptes"))
    ap.add_argument("--summarize", metavar="LOG", help="only print the summary of an earlier run's output")
    args = ap.parse_args()
    if args.summarize:
        summarize_log(args.summarize)
        return 0

    work = tempfile.mkdtemp(prefix="panoptes-soak-")
    port = free_port()
    config_path = os.path.join(work, "panoptes.toml")
    with open(config_path, "w") as f:
        f.write(config(port, work, args.cameras))
    server = Server(args.binary, config_path, port)
    server.start()
    started = life_started = time.time()
    end = started + args.minutes * 60
    next_kill = started + args.kill_every if args.kill_every > 0 else float("inf")
    next_churn, next_sample, next_read = started + 15, started + 10, started
    least_rss = float("inf")  # the least RSS read since the last printed row
    clients, seen, lives, samples, failures = [], set(), [[]], [], []
    churn_on = False
    print(f"soak: {args.minutes} min, {args.cameras} cameras, store {work}", flush=True)
    print(f"{'t_s':>6} {'life':>4} {'rss_mib':>8} {'fds':>5} {'threads':>7} {'events':>7} {'clients':>7}", flush=True)
    try:
        while time.time() < end:
            now = time.time()
            # Slow and disconnecting WebSocket clients.
            clients = [(c, t) for c, t in clients if t > now or c.close()]
            while len(clients) < args.clients:
                path = random.choice(["/ws/live/cam0", "/ws/overlay"])
                try:
                    clients.append((stalled_ws(port, path), now + random.uniform(20, 40)))
                except OSError as e:
                    failures.append(f"t={now - started:.0f}s: WebSocket {path}: {e}")
                    break
            if now >= next_churn:
                next_churn = now + 15
                try:
                    if churn_on:
                        server.request("DELETE", "/api/cameras/churn")
                    else:
                        server.request("POST", "/api/cameras", {
                            "id": "churn", "file": "var/media/vtest-h264.mp4", "detect_fps": 1})
                    churn_on = not churn_on
                except OSError as e:
                    failures.append(f"t={now - started:.0f}s: API churn: {e}")
            if now >= next_kill:
                next_kill = now + args.kill_every
                before = all_event_ids(server)
                seen |= before
                for c, _ in clients:
                    c.close()
                clients = []
                server.kill9()
                server.start()
                life_started = time.time()
                least_rss, next_sample = float("inf"), life_started + 10
                churn_on = any(c["id"] == "churn" for c in server.get("/api/cameras"))
                lives.append([])
                after = all_event_ids(server)
                lost = seen - after
                if lost:
                    failures.append(f"t={now - started:.0f}s: {len(lost)} events lost over kill -9: {sorted(lost)[:10]}")
            if now >= next_read:
                next_read = now + 1
                try:
                    least_rss = min(least_rss, server.sample()[0])
                except OSError:
                    pass
            if now >= next_sample:
                next_sample = now + 10
                try:
                    _, fds, threads = server.sample()
                    rss, least_rss = least_rss, float("inf")
                    events = len(all_event_ids(server))
                except OSError as e:
                    failures.append(f"t={now - started:.0f}s: sampling: {e}")
                    continue
                row = (now - started, len(lives), rss, fds, threads, events, len(clients), now - life_started)
                samples.append(row)
                lives[-1].append(row)
                print(f"{row[0]:6.0f} {row[1]:4d} {rss:8.1f} {fds:5d} {threads:7d} {events:7d} {len(clients):7d}", flush=True)
            time.sleep(0.2)
        seen |= all_event_ids(server)
    finally:
        for c, _ in clients:
            c.close()
        server.stop()
    # A restart on the same store still serves every event.
    server.start()
    lost = seen - all_event_ids(server)
    server.stop()
    if lost:
        failures.append(f"after the last restart: {len(lost)} events lost")

    print("\nsummary")
    worst = summarize(lives)
    if samples:
        kept = f"{len(lost)} LOST" if lost else "none lost"
        print(f"  fds {min(r[3] for r in samples)}–{max(r[3] for r in samples)}, "
              f"threads {min(r[4] for r in samples)}–{max(r[4] for r in samples)}, {len(seen)} events, {kept}")
    if worst >= 5.0:
        failures.append(f"RSS grew {worst:.1f} % after warm-up within one server life")
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
