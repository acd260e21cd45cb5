"""docker/for-linux#121 (https://github.com/docker/for-linux/issues/121): 500 containers created and started
through the Engine API on an Azure D4_v2 VM (8 vCPUs, 28 GiB), never more than 100 activations (create +
start) at once, a new one as soon as one is done: usually 60 to 75 s for the 500, sometimes 100 to 120 s.
Tolerance: 15% around the usual range, [51, 86.25] s.

Parameters (one set, nothing calibrated; each value a documented fact of this environment):
- 8 cores, 28 GiB, the image preloaded; 100 slots of 5 detached runs each.
- Docker 17.x (the issue is of October 2017): the layer store's one global lock over CreateRWLayer, gone in
  19.03 (moby#39135, https://github.com/moby/moby/pull/39135): ``daemon.layer_store_lock: global``; and
  libnetwork's 4 store commits to create a bridge endpoint (``endpoint_commits: 2``, ``bridge_commits: 2``, as
  in test_moby_42096.py), then the sandbox's record (1) and the join's (2, and 1 of the bridge driver), as
  today: 8 a start (libnetwork's bump_17.09 and bump_17.12 branches make the same calls).
- Its disk: a D4_v2 takes Standard storage only (Premium Storage: Not Supported,
  https://learn.microsoft.com/en-us/azure/virtual-machines/dv2-dsv2-series), so HDD. Khan
  (arXiv:2602.15214) measured a warm `docker run` on Azure at 1157 ms on HDD against 568 ms on premium SSD;
  dsim scales the disk-bound costs by that ratio (docs/containers.md): create 60 x 1157/568 = 122.2 ms,
  mount 20 x 1157/568 = 40.7 ms. A bbolt commit on it is two fdatasyncs (data, then meta page) of Standard
  HDD's "under 10 ms" writes (https://learn.microsoft.com/en-us/azure/virtual-machines/disks-types):
  ``store_commit`` and ``daemon.metadata_commit`` 20 ms.

Predicted by hand: the creates pass the global layer-store lock one at a time, 122.2 ms each (the 500th
ends at 2 ms + 500 x 0.1222 = 61.10 s), but libnetwork's store is slower: 8 x 20 = 160 ms per start, so it sets
the pace (the metadata store 2 x 20 ms and the start path's CPU, 500 x 0.37 x (0.1222 + 0.454) / 8 = 13.3 s
on 8 cores, pipeline under it; the runs are detached servers: no exit, no teardown). The first start reaches
the store after its create (2 ms API call + 122.2 ms), its start's API call (2 ms), mount (40.7 ms) and netns
(10 ms), at 0.1769 s; the 500th holds it from 0.1769 + 499 x 0.160 = 80.0169 s and its process starts runc
create and start (454 + 20 ms) after it reached the store: 80.49 s, 7.3% above the measured 60-75 s (within
the 15% tolerance; 19% above its middle). Before dsim counted the sandbox's and the join's commits the
layer store set the pace (61.63 s).
Deterministic: one run is the average.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: the disk-bound costs scaled by Khan's HDD / SSD ratio, 1157 / 568, to 0.1 ms
CREATE, MOUNT = 0.1222, 0.0407


def makespan() -> float:
    runs = ", ".join(["{run: {image: 'alpine:3.24', detach: true}}"] * 5)
    result = run_text(f"""
    name: docker-for-linux-121
    hosts:
      d4v2: {{cpus: 8, memory: 28GiB, preloaded: ['alpine:3.24'],
              daemon: {{layer_store_lock: global, metadata_commit: 20ms}},
              runtime: {{create: {CREATE}s, mount: {MOUNT}s}},
              networking: {{endpoint_commits: 2, bridge_commits: 2, store_commit: 20ms, endpoint_rules: 0}}}}
    workloads:
      activations: {{arrival: {{burst: 100}}, steps: [{runs}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    value: float = result.summary()["makespan_s"]
    return value


def test_500_activations_100_at_a_time() -> None:
    predicted = makespan()
    assert predicted == pytest.approx(0.002 + CREATE + 0.002 + MOUNT + 0.010 + 499 * 8 * 0.020 + 0.454 + 0.020)
    assert 0.85 * 60 <= predicted <= 1.15 * 75  # the measured 60-75 s, 15%
