"""docker/for-linux#121 (https://github.com/docker/for-linux/issues/121): 500 containers created and started
through the Engine API on an Azure D4_v2 VM (8 vCPUs, 28 GiB), never more than 100 activations (create +
start) at once, a new one as soon as one is done: usually 60 to 75 s for the 500, sometimes 100 to 120 s.

Parameters (one set, nothing calibrated): 8 cores, 28 GiB, the image preloaded, dsim's defaults; 100
slots of 5 detached runs each.

NOT reproduced. dsim's lower bound is the CPU: 500 x 190.18 ms of start-path CPU on 8 cores = 11.89 s (the
netns lock's 500 x 10 ms = 5 s and the metadata lock's 500 x 2 x 2 ms = 2 s pipeline under it), and with
100 in flight the cores stay busy, so dsim predicts just above 11.89 s: about a fifth of the 60-75 s
measured. The issue gives no profile; the same gap as moby#42096 (about 0.13 s of serialized time per
container here, Docker 17.x), where the daemon's per-network endpoint lock is the documented culprit
(docs/validation.md). Deterministic: one run is the average.
"""

from __future__ import annotations

from tests.helpers import run_text


def test_500_activations_100_at_a_time() -> None:
    runs = ", ".join(["{run: {image: 'alpine:3.24', detach: true}}"] * 5)
    result = run_text(f"""
    name: docker-for-linux-121
    hosts:
      d4v2: {{cpus: 8, memory: 28GiB, preloaded: ['alpine:3.24']}}
    workloads:
      activations: {{arrival: {{burst: 100}}, steps: [{runs}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    makespan = result.summary()["makespan_s"]
    assert 500 * 0.37 * 0.514 / 8 <= makespan < 60 / 3  # not reproduced: see the module docstring
