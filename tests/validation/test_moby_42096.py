"""moby#42096 (https://github.com/moby/moby/issues/42096): on a Ryzen 9 3950X (16 cores, 32 threads),
`parallel -j32 -N0 docker run --rm alpine /bin/true ::: {1..100}` and, immediately after, one more
`time docker run --rm alpine /bin/true`: 7.399 s real with the 32 others starting, 0.603 s alone. One run
each, so 25% tolerance.

Parameters (one set, nothing calibrated): 32 cores (the PS scheduler counts hardware threads), 64 GiB,
alpine preloaded; Docker 20.10 (the issue is of February 2021), whose libnetwork commits 4 times to its store
when it creates a bridge endpoint (``endpoint_commits: 2``: the endpoint and the network's endpoint count;
``bridge_commits: 2``: the bridge driver's endpoint and the IPAM bitmap, persisted until Docker 24: moby
commits c4d7294b5c and 51d7f95c4b), and, as today, 4 more for the sandbox (its record, 1) and the join (the
sandbox and the endpoint records, 2; the bridge driver's, 1), 8 a start; its teardown 7 (leave 2, the
endpoint's deletion 4, the sandbox's record 1; libnetwork's bump_20.10 branch, components/libnetwork_store.py);
a Linux kernel before 5.19 (released July 2022), whose namespace exit path still waited for RCU grace periods:
``netns_teardown: 46.2ms`` (`unshare -n true`, create + destroy, 47.7 ms before Westphal's patches and 1.5 ms
after, https://www.redhat.com/sysadmin/speed-oci-containers);
every other value dsim's default (a warm `docker run` of 568 ms, docs/containers.md). `--rm` is a run of a
process that exits at once, then `rm` (one API call), which waits for the exit's teardown (dockerd's Cleanup,
components/teardown.py). The timed run is the 33rd to start, behind the 32 of the storm (the worst case of
"with 32 others starting").

- alone: the process exits at 0.568 s; its teardown holds libnetwork's store for 7 commits of 2 ms (0.582 s),
  moves the interface back to the host's namespace and deletes the namespace under rtnl (``iface_return`` 17 ms
  and 46.2 ms: 0.6452 s), then deletes the veth pair (``veth_teardown``, 19.5 ms: 0.6647 s); the rm's API call
  (2 ms) ends before that, so 0.6647 s, 10.2% above the measured 0.603 s: within. Docker 20.10 has no
  raw-table rule per endpoint (``endpoint_rules: 0``).
- in the storm: NOT reproduced (xfail). The locks each run passes: the kernel's rtnl lock 10 ms at start and 46.2 +
  17 ms at the exit's teardown (the namespace's deletion and the interface's return), libnetwork's store 8 x 2 ms at
  start and 7 x 2 ms at the teardown, the metadata store 2 x 2 ms (create and start); the start path's CPU
  (190.18 ms a run) fits in the 32 threads. The timed run waits at
  least behind the 32 netns creations ahead of it (0.6647 + 32 x 0.010 = 0.985 s) and at most behind every hold of
  two runs of each of the 32 others (the first wave and the second, whose creations may queue on rtnl ahead of its
  teardown), as if none overlapped, with all their CPU on its threads: 0.6647 + 64 x (0.0732 + 0.030 + 0.004) + 65 x
  0.37 x 0.514 / 32 = 7.91 s. dsim gives 2.79 s against the measured 7.4 s: about 0.14 s per start stays serialized
  in real Docker that dsim does not model. The thread's follow-up PR (moby#44887, pprof of 400 concurrent `docker
  run --rm busybox /bin/true`) shows the starts waiting for the network's lock in libnetwork's CreateEndpoint, which
  holds it over the veth's creation (under rtnl); candidates still missing: RCU grace periods longer on a 32-thread
  machine than the 47.7 ms mean of Scrivano's (its runs reached 190 ms), cleanup_net's batching on the kernel's
  single-threaded netns workqueue, the syncfs of the backing filesystem on every overlay unmount (moby#47630), and
  the reactions of udev and networkd to every veth (the 2023-01-21 comment's log).
Deterministic: one run is the average.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

RUN_RM = "{run: {image: 'alpine:3.24', duration: 0s}}, {rm: {}}"
#: Docker 20.10's libnetwork: 4 store commits to create a bridge endpoint (the sandbox's and the join's as today); a
#: kernel before 5.19 (module docstring)
DOCKER_20_10 = "networking: {endpoint_commits: 2, bridge_commits: 2, netns_teardown: 46.2ms, endpoint_rules: 0}"
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


def test_alone_a_run_takes_khans_568_ms_plus_its_teardown() -> None:
    predicted = timed_run(with_storm=False)
    assert abs(predicted - 0.603) <= 0.25 * 0.603
    assert predicted == pytest.approx(0.568 + 7 * 0.002 + 0.017 + 0.0462 + 0.0195)


def test_the_storm_slows_it_within_the_locks_bound() -> None:
    predicted = timed_run(with_storm=True)
    alone = 0.568 + 7 * 0.002 + 0.017 + 0.0462 + 0.0195
    assert alone + 32 * 0.010 <= predicted < alone + 64 * (0.0732 + 0.030 + 0.004) + 65 * 0.37 * 0.514 / 32


@pytest.mark.xfail(strict=True, reason="not reproduced: dsim 2.79 s, about 0.14 s per start stays serialized in "
                   "real Docker 20.10 beyond dsim's locks (module docstring)")
def test_the_storm_takes_the_measured_7_4_s() -> None:
    assert abs(timed_run(with_storm=True) - 7.399) <= 0.25 * 7.399
