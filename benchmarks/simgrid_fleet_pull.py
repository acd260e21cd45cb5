"""The fleet pull of bench_fleet_pull.py simulated by SimGrid (its Python binding), for comparison.

Run by a Python that has SimGrid's binding (Debian's ``python3-simgrid``, or ``pip install simgrid`` where
it builds); bench_fleet_pull.py ``--simgrid PYTHON`` runs it in a subprocess.  It imports nothing of dsim.

The same platform: a registry behind one 10 Gbps link, a 1 Gbps link per host, no latency; CM02 (max-min
fairness, no bandwidth factor) and no cross traffic, so a flow's rate is its max-min share as in dsim and the
makespan must equal total bytes / 10 Gbps.  One actor per host keeps at most ``slots`` downloads going
(``Comm.sendto_async`` from the registry, ``Comm.wait_any`` on its own few), like dsim's per-host slots.
Prints one line of JSON: process CPU seconds and wall seconds of building and running, the makespan, flows.

    python3 benchmarks/simgrid_fleet_pull.py HOSTS LAYERS LAYER_BYTES SLOTS
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import simgrid

GBPS = 1e9 / 8  # bytes/s


def main() -> None:
    hosts, layers, layer_bytes, slots = (int(float(arg)) for arg in sys.argv[1:5])
    wall, cpu = time.perf_counter(), time.process_time()
    engine = simgrid.Engine(["fleet", "--cfg=network/model:CM02", "--cfg=network/crosstraffic:0",
                             "--log=root.thresh:warning"])
    zone = simgrid.NetZone.create_full_zone("fleet")
    registry = zone.create_host("registry", 1e9)
    uplink = zone.create_link("registry-link", [10 * GBPS]).seal()
    nodes = []
    for i in range(hosts):
        node = zone.create_host(f"host-{i}", 1e9)
        nic = zone.create_link(f"nic-{i}", [GBPS]).seal()
        zone.add_route(registry.netpoint, node.netpoint, None, None,
                       [simgrid.LinkInRoute(uplink), simgrid.LinkInRoute(nic)], True)
        nodes.append(node)
    zone.seal()

    def puller(node: simgrid.Host) -> None:
        left = layers
        going: list[Any] = []
        while left or going:
            while left and len(going) < slots:
                going.append(simgrid.Comm.sendto_async(registry, node, layer_bytes))
                left -= 1
            going.pop(simgrid.Comm.wait_any(going))

    for node in nodes:
        simgrid.Actor.create(f"pull-{node.name}", node, puller, node)
    engine.run()
    print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                      "makespan": engine.clock, "flows": hosts * layers}))


if __name__ == "__main__":
    main()
