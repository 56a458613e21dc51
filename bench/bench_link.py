"""500-item mission upload + verification download: dronekit-plzen vs MAVSDK-Python, same run.

Each client runs in a process of its own (as in a ground station application: its own
interpreter, GIL and threads) and talks to its own simulated PX4 (``simulators.SimFleet``, in
another child process with its own seeded lossy UDP relay, so no client shares an interpreter,
a GIL or a socket with the vehicle or with the other client); each times its own transfers,
from the call to the verified result (upload, then the download that verification needs;
the comparison of the items, the same for both, after the clock stops). Both clients stay
connected for the whole loss level and their transfers
alternate (ours, MAVSDK, MAVSDK, ours, ...), so a busy machine slows both alike; the result per
client is the best (and the median) of the rounds. At 20 % and 30 % the relay also duplicates
and reorders 5 % of the datagrams, in both directions.

The relay decodes the MAVLink header of every datagram and counts, per direction and message
type, what it forwarded and what it dropped; so for *both* clients the bench reports the
mission frames each one sent beyond one per item (retransmissions, as seen on the wire) next to
the mission frames lost on the way, the median time each side took to answer the other (as
the relay sees it: the client's own per-item latency, then the vehicle's), and, for ours, the
client's own counters (``Link.transfer_stats``). Per loss level, ``comparison`` gives the ratio
of the two medians and, on a shared machine whose load changes from second to second, the
ratio within each round (both transfers of a round run back to back) with its quartiles.
Writes ``bench/results/link.json``.

Both use their default settings (ours: ``TransferPolicy()``, adaptive timeouts with a 20 ms
floor). Run: ``.venv/bin/python bench/bench_link.py [--items 500] [--loss 0 0.2 0.3]
[--rounds 7] [--lossy-rounds 3] [--speedup 10] [--px4-dir PX4-Autopilot]``; with ``--px4-dir``
(and ``BIND_LOOPBACK_SO``, as for ``make interop``) the two clients are compared on real PX4 SITL
as well, one instance each, with no relay (key ``px4_sitl``).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import select
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dronekit_plzen.link import TransferPolicy, connect  # noqa: E402
from dronekit_plzen.mission_items import MissionItem  # noqa: E402
from dronekit_plzen.safety import Clearance  # noqa: E402

#: MAVLink message ids of the mission protocol, as the relay counts them
MISSION_IDS = {
    39: "MISSION_ITEM",
    40: "MISSION_REQUEST",
    43: "MISSION_REQUEST_LIST",
    44: "MISSION_COUNT",
    47: "MISSION_ACK",
    51: "MISSION_REQUEST_INT",
    73: "MISSION_ITEM_INT",
}
TO_VEHICLE, TO_CLIENT = "to_vehicle", "to_client"
#: after a failed transfer: longer than the simulator's upload timeout (5 s of its clock at
#: 10x, at least 2 s of wall time)
SETTLE_AFTER_FAILURE_S = 3.0


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


def frame_ids(data: bytes) -> list[int]:
    """Message ids of the MAVLink frames in one datagram (v1 and v2, signed or not)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        if data[pos] == 0xFD and pos + 10 <= len(data):
            out.append(data[pos + 7] | data[pos + 8] << 8 | data[pos + 9] << 16)
            pos += 12 + data[pos + 1] + (13 if data[pos + 2] & 1 else 0)
        elif data[pos] == 0xFE:
            out.append(data[pos + 5])
            pos += 8 + data[pos + 1]
        else:
            break
    return out


class Proxy:
    """Seeded lossy UDP relay between the vehicle's GCS port and the client; counts per type."""

    def __init__(self, listen_port: int, client_port: int, loss: float, seed: int) -> None:
        self.loss, self.dup, self.reorder = loss, (0.05 if loss else 0.0), (0.05 if loss else 0.0)
        self.rng = random.Random(seed)
        self.vside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.vside.bind(("127.0.0.1", listen_port))
        self.cside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.cside.bind(("127.0.0.1", 0))
        self.client = ("127.0.0.1", client_port)
        self.vaddr: Any = None
        self.held: dict[str, Any] = {TO_CLIENT: None, TO_VEHICLE: None}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.stats = {"forwarded": 0, "lost": 0, "duplicated": 0, "reordered": 0}
        #: (direction, event, message name) -> count; event: "seen" (arrived), "lost"
        self.by_type: Counter[str] = Counter()
        # response times seen from the relay: from forwarding one side's mission frame to the
        # other side's next mission frame (the client's own latency, then the vehicle's)
        self.forwarded_at: dict[str, float] = {}
        self.response_s: dict[str, list[float]] = {TO_VEHICLE: [], TO_CLIENT: []}
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def count(self, d: str, event: str, data: bytes) -> None:
        for mid in frame_ids(data):
            name = MISSION_IDS.get(mid)
            if name is not None:
                self.by_type[f"{d} {event} {name}"] += 1

    def emit(self, d: str, data: bytes, sock: socket.socket, addr: Any) -> None:
        now = time.perf_counter()
        mission = any(mid in MISSION_IDS for mid in frame_ids(data))
        with self.lock:
            other = TO_CLIENT if d == TO_VEHICLE else TO_VEHICLE
            if mission and other in self.forwarded_at:  # d's sender answers other's frame
                self.response_s[d].append(now - self.forwarded_at.pop(other))
            self.count(d, "seen", data)
            if self.rng.random() < self.loss:
                self.stats["lost"] += 1
                self.count(d, "lost", data)
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
            if mission:
                self.forwarded_at[d] = time.perf_counter()
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
                    self.emit(TO_CLIENT, data, self.cside, self.client)
                elif self.vaddr is not None:
                    self.emit(TO_VEHICLE, data, self.vside, self.vaddr)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            resp = {d: list(v) for d, v in self.response_s.items()}
            for v in self.response_s.values():
                v.clear()
            return {"stats": dict(self.stats), "by_type": dict(self.by_type), "response_s": resp}

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


def serve(loss: float, client_port: int, seed: int, conn: Any, speedup: float = 10.0) -> None:
    """Child process: the simulator and the relay (out of the clients' interpreter and GIL).

    Answers "snap" with the relay's counters until told "done".
    """
    from simulators import SimFleet

    for _attempt in range(10):
        off = 1000 + random.randrange(0, 200) * 100
        try:
            sim = SimFleet(n_vehicles=1, autopilot="px4", speedup=speedup, port_offset=off).start()
            proxy = Proxy(sim.ports(0)["api_remote"], client_port, loss, seed=seed)
            break
        except OSError:
            continue
    conn.send("ready")
    while conn.recv() == "snap":
        conn.send(proxy.snapshot())
    proxy.close()
    sim.stop()
    conn.send(proxy.snapshot())


def wire_counts(before: dict[str, Any], after: dict[str, Any], n: int) -> dict[str, Any]:
    """Mission frames over the relay during one transfer pair: sent, lost, sent beyond need."""
    d: Counter[str] = Counter(after["by_type"])
    d.subtract(before["by_type"])

    def c(direction: str, event: str, *names: str) -> int:
        return sum(d[f"{direction} {event} {name}"] for name in names)

    items_sent = c(TO_VEHICLE, "seen", "MISSION_ITEM_INT", "MISSION_ITEM")
    requests_sent = c(TO_VEHICLE, "seen", "MISSION_REQUEST_INT", "MISSION_REQUEST")
    count_sent = c(TO_VEHICLE, "seen", "MISSION_COUNT")
    list_sent = c(TO_VEHICLE, "seen", "MISSION_REQUEST_LIST")
    lost_to_vehicle = c(TO_VEHICLE, "lost", *MISSION_IDS.values())
    lost_to_client = c(TO_CLIENT, "lost", *MISSION_IDS.values())
    return {
        "upload_items_sent": items_sent,
        "download_requests_sent": requests_sent,
        # one MISSION_COUNT, n items; one MISSION_REQUEST_LIST, n requests: anything more was
        # sent again
        "retransmissions": max(0, items_sent - n)
        + max(0, requests_sent - n)
        + max(0, count_sent - 1)
        + max(0, list_sent - 1),
        "mission_frames_lost_to_vehicle": lost_to_vehicle,
        "mission_frames_lost_to_client": lost_to_client,
        "mission_frames_lost": lost_to_vehicle + lost_to_client,
        "all_datagrams_lost": after["stats"]["lost"] - before["stats"]["lost"],
        # response times at the relay (0 % loss: one per item and direction); the means sum up
        # to the transfer's time (with the relay's own), so they show where a slow tail is
        "client_response_us_median": _median_us(after["response_s"][TO_VEHICLE]),
        "vehicle_response_us_median": _median_us(after["response_s"][TO_CLIENT]),
        "client_response_us_mean": _mean_us(after["response_s"][TO_VEHICLE]),
        "vehicle_response_us_mean": _mean_us(after["response_s"][TO_CLIENT]),
    }


def _median_us(samples: list[float]) -> float | None:
    return round(1e6 * statistics.median(samples), 1) if samples else None


def _mean_us(samples: list[float]) -> float | None:
    return round(1e6 * statistics.fmean(samples), 1) if samples else None


class Ours:
    name = "dronekit-plzen"

    def __init__(self, client_port: int) -> None:
        # 1 Hz heartbeats, as MAVSDK sends: the simulator handles the same traffic from both
        self.link = connect(f"udpin://127.0.0.1:{client_port}", heartbeat_hz=1)
        self.v = self.link.wait_vehicle(timeout_s=20)
        # the default policy (adaptive timeouts, 20 ms floor): what a user gets; a lower floor
        # saves time at loss but turns a busy machine's pauses into needless retransmissions
        self.v.transfer_policy = TransferPolicy()
        self.v.wait_for(lambda s: s.messages_received > 100, 30, "telemetry")

    def transfer(self, items: list[MissionItem]) -> dict[str, Any]:
        v = self.v
        # the safety guard's clearance is the caller's preparation, as MAVSDK's items are
        clearance = Clearance.passed(items)
        t0 = time.perf_counter()
        v.upload_mission(items, verify=False, clearance=clearance)
        upload_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = v.download_mission()
        download_s = time.perf_counter() - t0
        ok = len(back) == len(items) and all(a.same_as(b) for a, b in zip(items, back))
        res: dict[str, Any] = {"upload_s": upload_s, "download_s": download_s, "verified": ok}
        counts = getattr(self.link, "transfer_stats", None)  # None: a version before them
        if counts:
            up, down = counts[(v.sysid, "upload")], counts[(v.sysid, "download")]
            keys = ("frames_sent", "retransmissions", "on_request", "on_timeout", "ignored")
            res["client_counts"] = {
                "upload": {k: getattr(up, k) for k in (*keys, "restarts", "direct", "express")},
                "download": {k: getattr(down, k) for k in (*keys, "direct", "express")},
                "srtt_ms": round(1e3 * down.srtt_s, 3),
            }
        return res

    def close(self) -> None:
        self.link.close()


class Theirs:
    name = "mavsdk-python"

    def __init__(self, client_port: int) -> None:
        from mavsdk import ComponentType, Configuration, Mavsdk
        from mavsdk.plugins.mission_raw.mission_raw import MissionRaw

        cfg = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        self.sdk = Mavsdk(cfg)
        self.sdk.__enter__()
        self.sdk.add_any_connection(f"udpin://127.0.0.1:{client_port}")
        system = self.sdk.first_autopilot(timeout_s=20.0)
        if system is None:
            raise RuntimeError("MAVSDK found no autopilot")
        self.raw = MissionRaw(system)

    def transfer(self, items: list[MissionItem]) -> dict[str, Any]:
        from mavsdk.plugins.mission_raw.mission_raw import MissionItem as RawItem

        wire = [RawItem(**it.to_wire(i, current=i == 0)) for i, it in enumerate(items)]
        t0 = time.perf_counter()
        self.raw.upload_mission(wire)
        upload_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = self.raw.download_mission()
        download_s = time.perf_counter() - t0
        # the same check as ours (MissionItem.same_as: every field a vehicle stores), on the
        # items MAVSDK returns, after the clock stopped as for ours
        ok = len(back) == len(items) and all(
            a.same_as(MissionItem.from_wire(b, int_coords=True)) for a, b in zip(items, back)
        )
        return {"upload_s": upload_s, "download_s": download_s, "verified": ok}

    def close(self) -> None:
        self.raw.destroy()
        self.sdk.__exit__(None, None, None)


CLIENTS = {c.name: c for c in (Ours, Theirs)}


def client_main(name: str, port: int, items: list[MissionItem], conn: Any) -> None:
    """Child process: one client (its own interpreter, GIL and threads, as in a ground station
    application); times each transfer it is asked for and sends the result back."""
    client = CLIENTS[name](port)
    conn.send("ready")
    while conn.recv() == "transfer":
        try:
            res = client.transfer(items)
            res["error"] = None
        except Exception as exc:  # a failed run is a result too
            res = {"upload_s": None, "download_s": None, "verified": False}
            res["error"] = repr(exc)[:300]
        conn.send(res)
    client.close()
    conn.send("closed")


class Remote:
    """A client in a process of its own (:func:`client_main`)."""

    def __init__(self, ctx: Any, name: str, port: int, items: list[MissionItem]) -> None:
        self.name = name
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=client_main, args=(name, port, items, child), daemon=True)
        self.proc.start()
        if self.conn.recv() != "ready":
            raise RuntimeError(f"{name} did not start")

    def transfer(self) -> dict[str, Any]:
        self.conn.send("transfer")
        res: dict[str, Any] = self.conn.recv()
        return res

    def close(self) -> None:
        self.conn.send("close")
        self.conn.recv()
        self.proc.join(timeout=30)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r["verified"] and r["error"] is None]
    out: dict[str, Any] = {"rounds": len(runs), "verified": len(ok)}
    if ok:
        totals = sorted(r["upload_s"] + r["download_s"] for r in ok)
        best = min(ok, key=lambda r: r["upload_s"] + r["download_s"])
        out.update(
            best_total_s=round(totals[0], 4),
            best_upload_s=round(best["upload_s"], 4),
            best_download_s=round(best["download_s"], 4),
            median_total_s=round(statistics.median(totals), 4),
        )
    if ok and all(r.get("wire") for r in ok):
        out.update(
            retransmissions=[r["wire"]["retransmissions"] for r in ok],
            client_response_us_median=[r["wire"]["client_response_us_median"] for r in ok],
            vehicle_response_us_median=[r["wire"]["vehicle_response_us_median"] for r in ok],
            client_response_us_mean=[r["wire"]["client_response_us_mean"] for r in ok],
            vehicle_response_us_mean=[r["wire"]["vehicle_response_us_mean"] for r in ok],
            mission_frames_lost=[r["wire"]["mission_frames_lost"] for r in ok],
        )
    errors = [r["error"] for r in runs if r["error"] is not None]
    if errors:
        out["errors"] = errors[:3]
    return out


def _total(r: dict[str, Any]) -> float | None:
    if not r["verified"] or r["error"] is not None:
        return None
    return float(r["upload_s"] + r["download_s"])


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ours against MAVSDK on a shared, busy machine: the ratio of the medians, and the ratio
    within each round (the two transfers of a round run back to back, under the same load),
    with its spread. Below 1: ours is faster."""
    a = [t for r in ours if (t := _total(r)) is not None]
    b = [t for r in theirs if (t := _total(r)) is not None]
    if not a or not b:
        return {}
    pairs = sorted(
        ta / tb
        for ra, rb in zip(ours, theirs)
        if (ta := _total(ra)) is not None and (tb := _total(rb)) is not None
    )
    out: dict[str, Any] = {
        "ratio_of_medians": round(statistics.median(a) / statistics.median(b), 3),
        "ratio_of_best": round(min(a) / min(b), 3),
    }
    if pairs:
        q = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [pairs[0]] * 3
        out.update(
            paired_rounds=len(pairs),
            paired_ratio_median=round(statistics.median(pairs), 3),
            paired_ratio_q1=round(q[0], 3),
            paired_ratio_q3=round(q[2], 3),
            rounds_ours_faster=sum(1 for x in pairs if x < 1.0),
        )
    return out


def firmware_level(
    px4_dir: Path, items: list[MissionItem], rounds: int, ctx: Any
) -> dict[str, Any]:
    """Ours against MAVSDK on real PX4 SITL (``--px4-dir``, no loss, no relay): two instances,
    one per client (PX4 instance i sends its API link to UDP 14540+i), the clients alternating
    round by round as above. Started through ``scripts/interop/firmware.py`` (loopback only)."""
    import tempfile

    sys.path.insert(0, str(ROOT / "scripts" / "interop"))
    import firmware  # type: ignore[import-not-found]

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CLIENTS}
    insts, clients = [], []
    with tempfile.TemporaryDirectory(prefix="dkp-bench-px4-") as td:
        try:
            for i, name in enumerate(CLIENTS):
                insts.append(firmware.start_px4(px4_dir, i, Path(td) / f"px4-{i}"))
                clients.append(Remote(ctx, name, 14540 + i, items))
            for r in range(rounds):
                for client in clients if r % 2 == 0 else clients[::-1]:
                    res = client.transfer()
                    res.update(client=client.name, loss=0.0, round=r, wire=None)
                    print(json.dumps(res), flush=True)
                    runs[client.name].append(res)
        finally:
            for c in clients:
                c.close()
            for inst in insts:
                inst.stop()
    return {
        "firmware": f"PX4 SITL (SIH) from {px4_dir}, one instance per client",
        "summary": {name: summarise(rs) for name, rs in runs.items()},
        "comparison": compare(runs[Ours.name], runs[Theirs.name]),
        "runs": [r for rs in runs.values() for r in rs],
    }


def main() -> int:
    import multiprocessing as mp

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--loss", type=float, nargs="+", default=[0.0, 0.2, 0.3])
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds at 0 %% loss")
    ap.add_argument("--lossy-rounds", type=int, default=3, help="our rounds at a loss above 0")
    ap.add_argument(
        "--mavsdk-lossy-rounds",
        type=int,
        default=1,
        help="MAVSDK rounds at a loss above 0 (each can take minutes to time out)",
    )
    ap.add_argument("--speedup", type=float, default=10.0, help="the simulator's clock rate")
    ap.add_argument(
        "--px4-dir",
        type=Path,
        help="a built PX4-Autopilot tree: compare on real PX4 SITL too (BIND_LOOPBACK_SO as for "
        "make interop); results under 'px4_sitl'",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "link.json")
    args = ap.parse_args()
    items = survey(args.items)
    ctx = mp.get_context("spawn")
    px4_sitl = None
    if args.px4_dir is not None:
        px4_sitl = firmware_level(args.px4_dir, items, args.rounds, ctx)
        print(json.dumps({k: px4_sitl[k] for k in ("summary", "comparison")}), flush=True)
    levels = []
    for li, loss in enumerate(args.loss):
        clients: list[Any] = []
        pipes: dict[str, Any] = {}
        procs = []
        for ci, name in enumerate(CLIENTS):
            port = free_udp_port()
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=serve, args=(loss, port, 42 + 10 * li + ci, child, args.speedup), daemon=True
            )
            proc.start()
            parent.recv()
            procs.append(proc)
            pipes[name] = parent
            clients.append(Remote(ctx, name, port, items))
        runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in clients}
        for r in range(args.rounds if loss == 0 else args.lossy_rounds):
            order = clients if r % 2 == 0 else clients[::-1]
            for client in order:
                if (
                    loss > 0
                    and client.name == "mavsdk-python"
                    and (len(runs[client.name]) >= args.mavsdk_lossy_rounds)
                ):
                    continue
                pipe = pipes[client.name]
                pipe.send("snap")
                before = pipe.recv()
                res = client.transfer()
                if res["error"] is not None:
                    # a client that gave up may leave the vehicle in its upload (MAVSDK does
                    # not cancel it; each new MISSION_COUNT then only renews it): let the
                    # vehicle's own timeout end it, so one failure does not fail every round
                    time.sleep(SETTLE_AFTER_FAILURE_S)
                pipe.send("snap")
                res["wire"] = wire_counts(before, pipe.recv(), len(items))
                res.update(client=client.name, loss=loss, round=r)
                print(json.dumps(res), flush=True)
                runs[client.name].append(res)
        for client in clients:
            client.close()
            pipes[client.name].send("done")
            pipes[client.name].recv()
        for proc in procs:
            proc.join(timeout=30)
        levels.append(
            {
                "loss": loss,
                "summary": {name: summarise(rs) for name, rs in runs.items()},
                "comparison": compare(runs[Ours.name], runs[Theirs.name]),
                "runs": [r for rs in runs.values() for r in rs],
            }
        )
        print(
            json.dumps(
                {
                    "loss": loss,
                    "summary": levels[-1]["summary"],
                    "comparison": levels[-1]["comparison"],
                }
            ),
            flush=True,
        )
    import mavsdk

    out = {
        "benchmark": "500-item mission upload + download from simulators.SimFleet (PX4) "
        "through a lossy UDP relay; clients alternate in the same run, best of the rounds",
        "setup": "each client: own simulator + relay in a child process; 5 % dup + 5 % reorder "
        "when lossy; 'wire' counts mission frames at the relay",
        "items": args.items,
        "rounds": {"no_loss": args.rounds, "lossy": args.lossy_rounds},
        "clients": {"dronekit-plzen": "0.1.0", "mavsdk-python": mavsdk.__version__},
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "levels": levels,
    }
    if px4_sitl is not None:
        out["px4_sitl"] = px4_sitl
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
