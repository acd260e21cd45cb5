"""moby#42096 (https://github.com/moby/moby/issues/42096): on a Ryzen 9 3950X (16 cores, 32 threads),
`parallel -j32 -N0 docker run --rm alpine /bin/true ::: {1..100}` and, immediately after, one more
`time docker run --rm alpine /bin/true`: 7.399 s real with the 32 others starting, 0.603 s alone. One run
each, so 25% tolerance.

Parameters (one set, nothing calibrated): 32 cores (the PS scheduler counts hardware threads), 64 GiB,
alpine preloaded; Docker 20.10 (the issue is of February 2021), whose libnetwork commits 4 times to its store
per bridge endpoint (``endpoint_commits: 2``: the endpoint and the network's endpoint count;
``bridge_commits: 2``: the bridge driver's endpoint and the IPAM bitmap, persisted until Docker 24: moby
commits c4d7294b5c and 51d7f95c4b); every other value dsim's default (a warm `docker run` of 568 ms,
docs/containers.md). `--rm` is a run of a process that exits at once, then `rm` (one API call). The timed
run is the 33rd to start, behind the 32 of the storm (the worst case of "with 32 others starting").

- alone: predicted 0.568 s + the rm call's 2 ms = 0.570 s, 5.5% below the measured 0.603 s: within.
- in the storm: NOT reproduced (xfail). dsim's serialization points hold each start: the kernel's rtnl lock
  10 ms (netns), libnetwork's store 4 x 2 ms, containerd's metadata store 2 x 2 ms; they pipeline, the
  slowest (rtnl, 10 ms) sets the pace, and the start path's CPU (190.18 ms a run) fits in the 32 threads.
  So the timed run ends before 0.570 + 32 x (0.010 + 0.008 + 0.004) + 33 x 0.37 x 0.514 / 32 = 1.47 s
  (every hold of the 32 ahead, as if none overlapped, and all their CPU on its threads); dsim gives 0.89 s
  against the measured 7.4 s, about 0.2 s of serialized time per start. The thread's follow-up PR
  (moby#44887, pprof of 400 concurrent `docker run --rm busybox /bin/true`) shows the starts waiting in
  libnetwork's CreateEndpoint; what they wait for there beyond dsim's store commits (2 ms each on a fast
  disk) is not documented: the removals of `--rm` (endpoint, sandbox and namespace teardown) and the Go
  mutex contention the pprof shows are candidates dsim does not model.
Deterministic: one run is the average.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

RUN_RM = "{run: {image: 'alpine:3.24', duration: 0s}}, {rm: {}}"
#: Docker 20.10's libnetwork: 4 store commits per bridge endpoint (see the module docstring)
DOCKER_20_10 = "networking: {endpoint_commits: 2, bridge_commits: 2}"
HOST = f"ryzen: {{cpus: 32, memory: 64GiB, preloaded: ['alpine:3.24'], {DOCKER_20_10}}}"


def timed_run(with_storm: bool) -> float:
    storm = f"parallel: {{arrival: {{burst: 32}}, steps: [{', '.join([RUN_RM] * 3)}]}}" if with_storm else ""
    result = run_text(f"""
    name: moby-42096
    hosts: {{{HOST}}}
    workloads:
      {storm}
      timed: {{arrival: {{burst: 1}}, steps: [{RUN_RM}]}}
    """)
    [timed] = [job for job in result.jobs if job.workload == "timed"]
    assert timed.status == "completed", timed.error
    return timed.duration_s


def test_alone_a_run_takes_khans_568_ms_plus_the_rm() -> None:
    predicted = timed_run(with_storm=False)
    assert abs(predicted - 0.603) <= 0.25 * 0.603
    assert abs(predicted - 0.570) < 1e-9


def test_the_storm_slows_it_within_the_locks_bound() -> None:
    predicted = timed_run(with_storm=True)
    assert 0.570 + 32 * 0.010 <= predicted < 0.570 + 32 * (0.010 + 0.008 + 0.004) + 33 * 0.37 * 0.514 / 32


@pytest.mark.xfail(strict=True, reason="not reproduced: about 0.2 s per start stays serialized in real Docker "
                   "20.10, dsim's locks hold 10 ms (module docstring)")
def test_the_storm_takes_the_measured_7_4_s() -> None:
    assert abs(timed_run(with_storm=True) - 7.399) <= 0.25 * 7.399
