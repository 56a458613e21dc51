"""500-item mission upload time at 0 % and 20 % packet loss: dronekit-plzen vs MAVSDK-Python.

Both clients upload the same 500 items to a fresh simulated PX4 (``simulators.SimFleet``) in the
same run, through the same seeded UDP proxy that loses (and at 20 % also duplicates and
reorders 5 % of) the datagrams in both directions. Writes ``bench/results/link.json``.

Run: ``.venv/bin/python bench/bench_link.py [--items 500] [--loss 0 0.2]``
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import select
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dronekit_plzen.link import TransferPolicy, connect  # noqa: E402
from dronekit_plzen.mission_items import MissionItem  # noqa: E402
from dronekit_plzen.safety import Clearance  # noqa: E402


def survey(n: int, lat0: float = 49.7475, lon0: float = 13.3776) -> list[MissionItem]:
    items = [MissionItem(command=22, alt_m=30.0, frame=6)]
    for i in range(n - 2):
        row, col = divmod(i, 20)
        items.append(
            MissionItem(
                command=16,
                frame=6,
                lat_deg=lat0 + row * 2e-4,
                lon_deg=lon0 + (col if row % 2 == 0 else 19 - col) * 3e-4,
                alt_m=40.0,
            )
        )
    items.append(MissionItem(command=20, frame=2))
    return items


class Proxy:
    """Seeded lossy UDP relay between the vehicle's GCS port and the client."""

    def __init__(self, listen_port: int, client_port: int, loss: float, seed: int) -> None:
        self.loss, self.dup, self.reorder = loss, (0.05 if loss else 0.0), (0.05 if loss else 0.0)
        self.rng = random.Random(seed)
        self.vside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.vside.bind(("127.0.0.1", listen_port))
        self.cside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.cside.bind(("127.0.0.1", 0))
        self.client = ("127.0.0.1", client_port)
        self.vaddr: Any = None
        self.held: dict[int, Any] = {0: None, 1: None}
        self.stop = threading.Event()
        self.stats = {"forwarded": 0, "lost": 0, "duplicated": 0, "reordered": 0}
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def emit(self, d: int, data: bytes, sock: socket.socket, addr: Any) -> None:
        if self.rng.random() < self.loss:
            self.stats["lost"] += 1
            return
        n = 2 if self.rng.random() < self.dup else 1
        self.stats["duplicated"] += n - 1
        if self.held[d] is None and self.rng.random() < self.reorder:
            self.held[d] = (data, addr)
            self.stats["reordered"] += 1
            return
        for _ in range(n):
            sock.sendto(data, addr)
            self.stats["forwarded"] += 1
        if self.held[d] is not None:
            sock.sendto(*self.held[d])
            self.held[d] = None

    def run(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.vside, self.cside], [], [], 0.05)
            for s in ready:
                data, addr = s.recvfrom(65536)
                if s is self.vside:
                    self.vaddr = addr
                    self.emit(0, data, self.cside, self.client)
                elif self.vaddr is not None:
                    self.emit(1, data, self.vside, self.vaddr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.vside.close()
        self.cside.close()


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def run_ours(client_port: int, items: list[MissionItem]) -> dict[str, Any]:
    with connect(f"udpin://127.0.0.1:{client_port}", heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=20)
        v.transfer_policy = TransferPolicy(min_item_timeout_s=0.005)
        v.wait_for(lambda s: s.messages_received > 100, 30, "telemetry")
        t0 = time.perf_counter()
        v.upload_mission(items, verify=False, clearance=Clearance.passed(items))
        upload_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = v.download_mission()
        download_s = time.perf_counter() - t0
        ok = len(back) == len(items) and all(a.same_as(b) for a, b in zip(items, back))
    return {"upload_s": upload_s, "download_s": download_s, "verified": ok}


def run_mavsdk(client_port: int, items: list[MissionItem]) -> dict[str, Any]:
    from mavsdk import ComponentType, Configuration, Mavsdk
    from mavsdk.plugins.mission_raw.mission_raw import MissionItem as RawItem
    from mavsdk.plugins.mission_raw.mission_raw import MissionRaw

    cfg = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
    with Mavsdk(cfg) as sdk:
        sdk.add_any_connection(f"udpin://127.0.0.1:{client_port}")
        system = sdk.first_autopilot(timeout_s=20.0)
        if system is None:
            raise RuntimeError("MAVSDK found no autopilot")
        raw = MissionRaw(system)
        wire = [RawItem(**it.to_wire(i, current=i == 0)) for i, it in enumerate(items)]
        t0 = time.perf_counter()
        raw.upload_mission(wire)
        upload_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = raw.download_mission()
        download_s = time.perf_counter() - t0
        ok = len(back) == len(items) and all(
            b.command == a.command and b.x == round(a.lat_deg * 1e7) for a, b in zip(items, back)
        )
        raw.destroy()
    return {"upload_s": upload_s, "download_s": download_s, "verified": ok}


def serve(loss: float, client_port: int, conn: Any) -> None:
    """Child process: the simulator and the proxy (kept out of the clients' interpreter/GIL)."""
    from simulators import SimFleet

    for _attempt in range(10):
        off = 1000 + random.randrange(0, 200) * 100
        try:
            sim = SimFleet(n_vehicles=1, autopilot="px4", speedup=10.0, port_offset=off).start()
            proxy = Proxy(sim.ports(0)["api_remote"], client_port, loss, seed=42)
            break
        except OSError:
            continue
    conn.send("ready")
    conn.recv()  # the client is done
    proxy.close()
    sim.stop()
    conn.send(dict(proxy.stats))


def main() -> int:
    import multiprocessing as mp

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--loss", type=float, nargs="+", default=[0.0, 0.2])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "link.json")
    args = ap.parse_args()
    items = survey(args.items)
    runs = []
    ctx = mp.get_context("spawn")
    for loss in args.loss:
        for name, fn in (("dronekit-plzen", run_ours), ("mavsdk-python", run_mavsdk)):
            client_port = free_udp_port()
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(loss, client_port, child), daemon=True)
            proc.start()
            parent.recv()
            try:
                res = fn(client_port, items)
                res["error"] = None
            except Exception as exc:  # a failed run is a result too
                res = {
                    "upload_s": None,
                    "download_s": None,
                    "verified": False,
                    "error": repr(exc)[:300],
                }
            parent.send("done")
            stats = parent.recv()
            proc.join(timeout=30)
            res.update(client=name, loss=loss, proxy=stats)
            print(json.dumps(res), flush=True)
            runs.append(res)
    import mavsdk

    out = {
        "benchmark": "mission upload to simulators.SimFleet (PX4) through a lossy UDP proxy",
        "setup": "simulator and proxy in a child process; 5 % dup + 5 % reorder when lossy",
        "items": args.items,
        "clients": {"dronekit-plzen": "0.1.0", "mavsdk-python": mavsdk.__version__},
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
