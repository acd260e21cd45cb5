"""Fleet pull: many hosts pull their layers through one registry; times dsim's flow solver.

1,000 hosts x 12 layers of 80 MB, one registry with a 10 Gbps egress link to a switch, 1 Gbps host
NICs off the switch, at most 3 concurrent downloads per host (Docker's max-concurrent-downloads):
up to 3,000 flows at once, 12,000 in all.  The registry link is the bottleneck, so the makespan must
equal the closed form total bytes / 10 Gbps.  The anchor (docs/performance.md): SimGrid 3.32's Python binding
runs this in 2.4 s wall on a 2-core machine.

The baseline, measured in the same run, is raw SimPy with the same processes and per-host slots, each
download replaced by a plain timeout, so the ratio is the cost of the network model itself.

``--simgrid PYTHON`` also runs the same fleet in SimGrid (``simgrid_fleet_pull.py``, in a subprocess of
``PYTHON``, a Python with SimGrid's binding, e.g. Debian's ``/usr/bin/python3`` with ``python3-simgrid``),
alternating with dsim ``--repeat`` times, and compares the process CPU times (best of each): simulation
against simulation, building the platform included on both sides.

``--vary`` draws layer sizes (20-140 MB) and host start times (0-60 s) from a seeded stream, so flows
finish one by one and every finish re-solves the shared link (the incremental path); near the end,
when fewer than 10 hosts remain, NICs bind and the makespan exceeds the bound a little.

    .venv/bin/python benchmarks/bench_fleet_pull.py [--hosts 1000] [--vary] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import random
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import networkx as nx
import simpy

from dsim.components.network import Network

GBPS = 1e9 / 8  # bytes/s
REGISTRY = "registry"
SWITCH = "switch"


def run_counted(env: simpy.Environment) -> int:
    """Run to the end, counting processed events (same loop as Environment.run)."""
    events = 0
    step = env.step
    try:
        while True:
            step()
            events += 1
    except simpy.core.EmptySchedule:
        pass
    return events


def plan(hosts: int, layers: int, layer_bytes: float, vary: bool, seed: int) -> list[tuple[float, list[float]]]:
    """Per host: (start time, layer sizes)."""
    rng = random.Random(seed)
    out = []
    for _ in range(hosts):
        if vary:
            out.append((rng.uniform(0.0, 60.0), [rng.uniform(20e6, 140e6) for _ in range(layers)]))
        else:
            out.append((0.0, [layer_bytes] * layers))
    return out


def build(env: simpy.Environment, work: list[tuple[float, list[float]]], slots: int,
          download: Callable[[str, float], Any]) -> None:
    """One process per layer; each takes one of its host's download slots for its transfer."""

    def layer(host: str, start: float, sem: simpy.Resource, size: float) -> Generator[Any, Any, None]:
        if start:
            yield env.timeout(start)
        with sem.request() as req:
            yield req
            yield download(host, size)

    for i, (start, sizes) in enumerate(work):
        host = f"host-{i}"
        sem = simpy.Resource(env, capacity=slots)
        for size in sizes:
            env.process(layer(host, start, sem, size))


def fleet(work: list[tuple[float, list[float]]], slots: int) -> tuple[float, int, float, Network, float]:
    """Wall seconds (build + run), events, makespan, the network for its counters, and CPU seconds."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    env = simpy.Environment()
    graph = nx.Graph()
    graph.add_edge(REGISTRY, SWITCH, capacity=10 * GBPS, latency=0.0)
    for i in range(len(work)):
        graph.add_edge(SWITCH, f"host-{i}", capacity=1 * GBPS, latency=0.0)
    net = Network(env, graph)
    build(env, work, slots, lambda host, size: net.transfer(REGISTRY, host, size))
    events = run_counted(env)
    return time.perf_counter() - t0, events, env.now, net, time.process_time() - c0


def simgrid_twin(python: str, hosts: int, layers: int, layer_bytes: float, slots: int,
                 cpu_limit: float | None = None) -> dict[str, float]:
    """SimGrid's run of the same fleet (``simgrid_fleet_pull.py`` in ``python``): cpu, wall, makespan.

    ``cpu_limit``: stop it after that many CPU seconds (the kernel's RLIMIT_CPU, SIGXCPU); the result then
    has ``cpu`` = the limit and ``makespan`` = NaN with ``unfinished`` set: SimGrid needed more than that."""
    script = Path(__file__).resolve().parent / "simgrid_fleet_pull.py"

    def limit() -> None:
        if cpu_limit is not None:
            seconds = math.ceil(cpu_limit)
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))

    wall = time.perf_counter()
    done = subprocess.run([python, str(script), str(hosts), str(layers), repr(layer_bytes), str(slots)],
                          capture_output=True, text=True, preexec_fn=limit)
    if done.returncode != 0 and cpu_limit is not None and done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return {"cpu": float(math.ceil(cpu_limit)), "wall": time.perf_counter() - wall, "makespan": math.nan,
                "unfinished": 1.0}
    done.check_returncode()
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def baseline(work: list[tuple[float, list[float]]], slots: int, flows_at_once: int) -> tuple[float, int]:
    """The same processes and slots with each download a plain timeout: wall seconds, events."""
    t0 = time.perf_counter()
    env = simpy.Environment()
    per_flow = 10 * GBPS / flows_at_once
    build(env, work, slots, lambda host, size: env.timeout(size / per_flow))
    events = run_counted(env)
    return time.perf_counter() - t0, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--layer-mb", type=float, default=80.0)
    ap.add_argument("--slots", type=int, default=3, help="concurrent downloads per host")
    ap.add_argument("--vary", action="store_true", help="random layer sizes and host start times")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest is reported")
    ap.add_argument("--profile", action="store_true", help="cProfile the fleet run, print the top 25")
    ap.add_argument("--simgrid", metavar="PYTHON", help="also run SimGrid's twin with this Python, alternating")
    ap.add_argument("--simgrid-cpu-limit", type=float, metavar="SECONDS",
                    help="stop SimGrid's twin after this much CPU (reported as more than that, unfinished)")
    args = ap.parse_args()

    work = plan(args.hosts, args.layers, args.layer_mb * 1e6, args.vary, args.seed)
    total = sum(sum(sizes) for _, sizes in work)
    flows = sum(len(sizes) for _, sizes in work)
    bound = total / (10 * GBPS)

    base_wall, base_events = min(baseline(work, args.slots, min(flows, args.hosts * args.slots))
                                 for _ in range(args.repeat))
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
    runs = []
    twins = []
    for _ in range(args.repeat):
        runs.append(fleet(work, args.slots))
        if args.simgrid and not args.vary:
            twins.append(simgrid_twin(args.simgrid, args.hosts, args.layers, args.layer_mb * 1e6, args.slots,
                                      args.simgrid_cpu_limit))
    wall, events, makespan, net, _ = min(runs, key=lambda r: r[0])
    cpu = min(r[4] for r in runs)
    if args.profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    sent = net.node_egress_bytes(REGISTRY)
    print(f"fleet pull: {args.hosts} hosts x {args.layers} layers, {flows} flows, "
          f"{total / 1e9:.1f} GB{' (varied)' if args.vary else ''}")
    print(f"  dsim network : {wall:7.3f} s wall (build + run), {events:8d} events, {events / wall:10.0f} events/s")
    print(f"  raw SimPy    : {base_wall:7.3f} s wall (build + run), {base_events:8d} events, "
          f"{base_events / base_wall:10.0f} events/s")
    print(f"  ratio        : {wall / base_wall:7.2f} x raw SimPy wall")
    print(f"  makespan     : {makespan:.6f} s; closed form total/10Gbps = {bound:.6f} s "
          f"(rel diff {(makespan - bound) / bound:+.2e})")
    print(f"  bytes        : registry sent {sent:.6e}, requested {total:.6e}; active flows left {net.active_flows}")
    print(f"  dsim CPU     : {cpu:7.3f} s (best of {args.repeat})")
    if twins:
        sg_cpu = min(t["cpu"] for t in twins)
        sg_wall = min(t["wall"] for t in twins)
        if all(t.get("unfinished") for t in twins):  # stopped at the CPU limit every time
            print(f"  SimGrid      : unfinished after {sg_cpu:.0f} s CPU ({sg_wall:.0f} s wall), the limit given")
            print(f"  dsim / SimGrid CPU: < {cpu / sg_cpu:.3f} (more than {sg_cpu / cpu:.1f}x faster)")
            return
        finished = [t for t in twins if not t.get("unfinished")]
        sg_cpu = min(t["cpu"] for t in finished)
        print(f"  SimGrid      : {sg_cpu:7.3f} s CPU, {sg_wall:7.3f} s wall (best of {args.repeat}, alternating), "
              f"makespan {finished[0]['makespan']:.6f} s")
        print(f"  dsim / SimGrid CPU: {cpu / sg_cpu:.3f} ({sg_cpu / cpu:.1f}x faster)")


if __name__ == "__main__":
    main()
