"""A start storm on the host network vs the default bridge, from moby#42096
(https://github.com/moby/moby/issues/42096, comment of 2022-11-22): on an AWS c5a.16xlarge (64 vCPUs,
128 GB, Docker 20.10.21), 64 `docker run [--network host] python:3.9.8-slim-buster python -c "print(now)"`
started at once; the first and last printed timestamps are 2-2.5 s apart with `--network host`, 5-15 s
apart on the default bridge (a range over runs: 25% tolerance on its ends).

Parameters (one set, nothing calibrated): 64 cores, 128 GiB, the image preloaded (python:3.12-slim stands
in: the start path does not depend on the image), Docker 20.10's libnetwork commits (``endpoint_commits: 2``,
``bridge_commits: 2``, as in test_moby_42096.py), every other value dsim's default. The printed timestamp
is the process start (the python start-up is the same for all 64).

Predicted by hand: the 64 runs pass the API and create together (64 cores: the CPU parts run in parallel;
the creates' metadata commits of 2 ms pace them 2 ms apart), then queue on the start path's locks, the
slowest of which sets the spread between the first and last process start:
- host: libnetwork's store holds 2 commits x 2 ms = 4 ms per endpoint (the host network's endpoint, no
  driver commits), slower than the 2 ms pace: 63 x 4 ms = 0.252 s.
- bridge: the kernel's rtnl lock (netns, 10 ms) is slower than the store (4 x 2 ms = 8 ms), so the k-th
  start leaves the netns step at T + k x 10 ms and its process starts 474 ms later (runc create and start;
  the store's commits are inside runc create). But each exit (at once: `duration: 0s`) releases its endpoint,
  4 more commits on the store (components/teardown.py). Exit 0 asks at T + 474 ms, between start 47 (holds
  470-478 ms) and start 48 (asks at 480): teardown 0 holds 478-486, so start 48 waits 6 ms (486-494);
  teardown 1 (asks at 484) holds 494-502, start 49 (490) waits 12 ms, and so on: each start waits 6 ms more
  than the one before, as one teardown (8 ms) joins every start (8 ms) in each 10 ms. Start 48 + i waits
  6 (i + 1) ms, the last (i = 15, teardown 15 asks at 624 ms, before it at 630) 96 ms. The spread:
  63 x 10 ms + 96 ms = 0.726 s. The host storm's store work is done (64 x 4 ms after T) before the first exit.
So bridge spreads 2.9 times as much as host (measured 2 to 7.5 times), but both far less than measured:
NOT reproduced (xfail): about 35 ms per start stays serialized on host and 80-230 ms on bridge in real
Docker 20.10; see test_moby_42096.py for what dsim may be missing.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text


def spread(network: str) -> float:
    result = run_text(f"""
    name: moby-42096-host-vs-bridge
    hosts:
      c5a: {{cpus: 64, memory: 128GiB, preloaded: ['python:3.12-slim'],
             networking: {{endpoint_commits: 2, bridge_commits: 2}}}}
    workloads:
      storm:
        arrival: {{burst: 64}}
        steps: [{{run: {{image: 'python:3.12-slim', duration: 0s, network: {network}}}}}]
    """)
    assert all(job.status == "completed" for job in result.jobs)
    starts = [span.start for span in result.spans_of("process")]
    return max(starts) - min(starts)


def test_the_spreads_are_the_slowest_lock_times_63() -> None:
    assert spread("host") == pytest.approx(63 * 2 * 0.002)
    assert spread("bridge") == pytest.approx(63 * 0.010 + 16 * 0.006)  # start 63 waits 6 x 16 ms


@pytest.mark.xfail(strict=True, reason="not reproduced: dsim's locks hold 4 ms per host start where about 35 ms "
                   "stay serialized in real Docker 20.10 (module docstring)")
def test_host_spreads_2_to_2_5_s() -> None:
    assert 0.75 * 2.0 <= spread("host") <= 1.25 * 2.5


@pytest.mark.xfail(strict=True, reason="not reproduced: dsim's locks hold about 11.5 ms per bridge start where "
                   "80-230 ms stay serialized in real Docker 20.10 (module docstring)")
def test_bridge_spreads_5_to_15_s() -> None:
    assert 0.75 * 5.0 <= spread("bridge") <= 1.25 * 15.0
