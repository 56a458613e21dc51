"""Simulator benchmark: vehicles × real-time factor on one core, messages per second emitted.

Runs the fleet in lockstep (as fast as possible) with default telemetry on both PX4 links for a
fixed wall time, for several fleet sizes, and compares the message rate with pymavlink's raw
encode+pack rate (the peer ratio: how much of the codec's ceiling the whole simulator reaches).
Writes bench/results/sim.json and prints the figures.

    .venv/bin/python bench/bench_sim.py [--seconds 3] [--sizes 1,5,10,20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from pymavlink.dialects.v20 import ardupilotmega as mav

from simulators import SimFleet


def raw_encode_rate(seconds: float) -> float:
    """pymavlink encode + pack of typical telemetry messages per second (one core)."""
    m = mav.MAVLink(None, srcSystem=1, srcComponent=1)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            m.attitude_encode(1000, 0.1, 0.2, 0.3, 0.0, 0.0, 0.0).pack(m)
            m.global_position_int_encode(
                1000, 497475000, 133776000, 310000, 20000, 1, 2, 3, 4500
            ).pack(m)
        n += 200
    return n / (time.perf_counter() - t0)


def run_fleet(n: int, seconds: float, autopilot: str = "px4") -> dict[str, float]:
    offset = 1000 + random.randrange(300) * 100
    fleet = SimFleet(n_vehicles=n, autopilot=autopilot, lockstep=True, port_offset=offset)
    with fleet:
        time.sleep(0.3)  # warm-up
        sim0, cpu0, wall0 = fleet.sim_time_s, time.thread_time(), time.perf_counter()
        sent0 = sum(link.sent for v in fleet.vehicles for _e, link in v.endpoints)
        pcpu0 = time.process_time()
        time.sleep(seconds)
        sim1, wall1, pcpu1 = fleet.sim_time_s, time.perf_counter(), time.process_time()
        sent1 = sum(link.sent for v in fleet.vehicles for _e, link in v.endpoints)
    del cpu0
    wall = wall1 - wall0
    cpu = max(pcpu1 - pcpu0, 1e-9)
    return {
        "vehicles": n,
        "sim_s": sim1 - sim0,
        "wall_s": wall,
        "cpu_s": cpu,
        "realtime_factor_wall": (sim1 - sim0) / wall,
        "realtime_factor_cpu": (sim1 - sim0) / cpu,
        "messages_per_s_wall": (sent1 - sent0) / wall,
        "messages_per_s_cpu": (sent1 - sent0) / cpu,
        "messages_per_sim_s_per_vehicle": (sent1 - sent0) / max(sim1 - sim0, 1e-9) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--sizes", default="1,5,10,20")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    raw = raw_encode_rate(1.0)
    rows = [run_fleet(n, args.seconds) for n in sizes]
    for r in rows:
        r["peer_ratio_vs_raw_encode"] = r["messages_per_s_cpu"] / raw
    ten = next((r for r in rows if r["vehicles"] == 10), None)
    result = {
        "benchmark": "simulator fleet, lockstep, default PX4 telemetry on API + GCS links",
        "cpu_count": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "raw_pymavlink_encode_msgs_per_s": raw,
        "runs": rows,
        "target": "10 vehicles at >= 10x real time",
        "target_met_cpu": bool(ten and ten["realtime_factor_cpu"] >= 10.0),
        "target_met_wall": bool(ten and ten["realtime_factor_wall"] >= 10.0),
    }
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sim.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"raw pymavlink encode+pack: {raw:,.0f} msg/s")
    head = ("vehicles", "RTF(wall)", "RTF(cpu)", "msg/s(wall)", "msg/s(cpu)", "peer")
    print("{:>8} {:>10} {:>9} {:>12} {:>11} {:>6}".format(*head))
    for r in rows:
        print(
            f"{r['vehicles']:>8} {r['realtime_factor_wall']:>10.1f} "
            f"{r['realtime_factor_cpu']:>9.1f} "
            f"{r['messages_per_s_wall']:>12,.0f} {r['messages_per_s_cpu']:>11,.0f} "
            f"{r['peer_ratio_vs_raw_encode']:>6.2f}"
        )
    met = (result["target_met_cpu"], result["target_met_wall"])
    print(f"target 10 vehicles >= 10x: cpu {met[0]}, wall {met[1]}")


if __name__ == "__main__":
    main()
