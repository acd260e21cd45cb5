"""moby#39135 (https://github.com/moby/moby/pull/39135), "Lessen mount lock contention in layer store":
1,000 `docker create alpine top` run 100 at a time (GNU parallel -j100) took about 40 s while the layer
store held one global lock for the whole of CreateRWLayer, about 20 s with the per-container locks of the
patch (dockerd 19.03 on; overlay2 and aufs).

Parameters (one environment, one calibrated value): the PR does not give the machine; dsim's defaults
with the create cost calibrated from the first row. With a global lock held t per create, 1,000 creates
end at 1,000 x t, so 40 s gives t = 40 ms (dsim's default is 60 ms, Khan's Azure VM): create: 40ms,
daemon.layer_store_lock: global.

- with the global lock (calibrated): 1,000 x 40 ms = 40.0 s.
- with per-container locks (predicted): NOT reproduced. The creates no longer queue on the layer store;
  what is left is their CPU work (0.37 x 40 ms = 14.8 ms each) and one 2 ms metadata commit each. Even on
  one core that is 1,000 x 14.8 ms = 14.8 s (the commits overlap the CPU work of others), below the
  measured 20 s; on more cores less. So after the patch about 20 ms per create stays serialized in
  dockerd 19.03 that dsim does not model (for example the init layer's mount and unmount, whose unmount
  syncs the filesystem: moby#42817 shows creates stuck there on slow disks).
Deterministic: one run is the average.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text


def creates(lock: str, cpus: int) -> float:
    steps = ", ".join(["{create: {image: 'alpine:3.24'}}"] * 10)
    result = run_text(f"""
    name: moby-39135
    hosts:
      box: {{cpus: {cpus}, memory: 8GiB, preloaded: ['alpine:3.24'], daemon: {{layer_store_lock: {lock}}},
             runtime: {{create: 40ms}}}}
    workloads:
      parallel: {{arrival: {{burst: 100}}, steps: [{steps}]}}
    """)
    assert len(result.jobs) == 100 and all(job.status == "completed" for job in result.jobs)
    makespan: float = result.summary()["makespan_s"]
    return makespan


def test_a_global_layer_store_lock_serializes_1000_creates() -> None:
    assert creates("global", cpus=4) == pytest.approx(40.0, rel=0.15)


def test_per_container_locks_leave_less_than_the_measured_20_s() -> None:
    one_core = creates("per-container", cpus=1)
    assert 1000 * 0.37 * 0.040 <= one_core < 20.0  # not reproduced: see the module docstring


@pytest.mark.xfail(strict=True, reason="not reproduced: about 20 ms per create stays serialized in dockerd 19.03 "
                   "after the patch that dsim does not model (module docstring)")
def test_per_container_locks_take_the_measured_20_s() -> None:
    assert creates("per-container", cpus=4) == pytest.approx(20.0, rel=0.15)
