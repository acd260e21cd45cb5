"""docker/for-linux#121 (https://github.com/docker/for-linux/issues/121): 500 containers created and started
through the Engine API on an Azure D4_v2 VM (8 vCPUs, 28 GiB), never more than 100 activations (create +
start) at once, a new one as soon as one is done: usually 60 to 75 s for the 500, sometimes 100 to 120 s.
Tolerance: 15% around the usual range, [51, 86.25] s.

Parameters (one set, nothing calibrated; each value a documented fact of this environment):
- 8 cores, 28 GiB, the image preloaded; 100 slots of 5 detached runs each.
- Docker 17.x (the issue is of October 2017): the layer store's one global lock over CreateRWLayer, gone in
  19.03 (moby#39135, https://github.com/moby/moby/pull/39135): ``daemon.layer_store_lock: global``; and
  libnetwork's 4 store commits per bridge endpoint (``endpoint_commits: 2``, ``bridge_commits: 2``, as in
  test_moby_42096.py).
- Its disk: a D4_v2 takes Standard storage only (Premium Storage: Not Supported,
  https://learn.microsoft.com/en-us/azure/virtual-machines/dv2-dsv2-series), so HDD. Khan
  (arXiv:2602.15214) measured a warm `docker run` on Azure at 1157 ms on HDD against 568 ms on premium SSD;
  dsim scales the disk-bound costs by that ratio (docs/containers.md): create 60 x 1157/568 = 122.2 ms,
  mount 20 x 1157/568 = 40.7 ms. A bbolt commit on it is two fdatasyncs (data, then meta page) of Standard
  HDD's "under 10 ms" writes (https://learn.microsoft.com/en-us/azure/virtual-machines/disks-types):
  ``store_commit`` and ``daemon.metadata_commit`` 20 ms.

Predicted by hand: the creates pass the global layer-store lock one at a time, 122.2 ms each, so the 500th
create ends at 2 ms (the first API call) + 500 x 0.1222 = 61.10 s; everything else pipelines under it
(libnetwork's store 4 x 20 = 80 ms per start, the metadata store 2 x 20 ms, the start path's CPU 500 x 0.37
x (0.1222 + 0.454) / 8 = 13.3 s on 8 cores), and the last activation's start adds its 2 ms API call + mount
40.7 ms + netns 10 ms + runc create 454 ms + exec 20 ms = 0.527 s: 61.63 s, inside the measured 60-75 s
(2.7% above its low end, 8.7% below its middle).
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
              networking: {{endpoint_commits: 2, bridge_commits: 2, store_commit: 20ms}}}}
    workloads:
      activations: {{arrival: {{burst: 100}}, steps: [{runs}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    value: float = result.summary()["makespan_s"]
    return value


def test_500_activations_100_at_a_time() -> None:
    predicted = makespan()
    assert predicted == pytest.approx(0.002 + 500 * CREATE + 0.002 + MOUNT + 0.010 + 0.454 + 0.020)
    assert 0.85 * 60 <= predicted <= 1.15 * 75  # the measured 60-75 s, 15%
