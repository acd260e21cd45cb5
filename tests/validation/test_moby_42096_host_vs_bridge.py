"""A start storm on the host network vs the default bridge, from moby#42096
(https://github.com/moby/moby/issues/42096, comment of 2022-11-22): on an AWS c5a.16xlarge (64 vCPUs,
128 GB, Docker 20.10.21), 64 `docker run [--network host] python:3.9.8-slim-buster python -c "print(now)"`
started at once; the first and last printed timestamps are 2-2.5 s apart with `--network host`, 5-15 s
apart on the default bridge (a range over runs: 25% tolerance on its ends).

Parameters (one set, nothing calibrated): 64 cores, 128 GiB, the image preloaded (python:3.12-slim stands
in: the start path does not depend on the image), Docker 20.10's libnetwork commits (``endpoint_commits: 2``,
``bridge_commits: 2``, as in test_moby_42096.py; the sandbox's and the join's as today), a kernel before 5.19
(``netns_teardown: 46.2ms``, as in test_moby_42096.py: the instance ran Ubuntu 20.04.4, whose kernels are 5.4
and, with the hardware enablement stack, at most 5.15, https://ubuntu.com/kernel/lifecycle), every other value
dsim's default. The printed timestamp is the process start (the python start-up is the same for all 64).

Predicted by hand: the 64 runs pass the API and create together (64 cores: the CPU parts run in parallel;
the creates' metadata commits of 2 ms pace them 2 ms apart), then queue on the start path's locks, the
slowest of which sets the spread between the first and last process start. A start's process begins 474 ms
(runc create and start) after it reaches libnetwork's store; its commits are inside runc create, so it pays
only the queueing there. The store is first come first served and a holder reserves its turn when it asks.
- host: the store holds 5 commits x 2 ms = 10 ms a start (the endpoint and the network's endpoint count, the
  sandbox's record, the join's sandbox and endpoint records; no driver commits), slower than the 2 ms pace:
  63 x 10 ms = 0.630 s. Every start has asked (by T + 126 ms) before the first exit (T + 474 ms or later).
- bridge: the store's 8 commits (16 ms) are slower than the kernel's rtnl lock (netns, 10 ms): start k reaches
  the store at r_k = T + 10 (k + 1) ms and holds it from s_k = T + 10 + 16 k ms while only starts are ahead,
  so its process starts at p_k = s_k + 474 ms. Each exit (at once: `duration: 0s`) tears down: 6 commits for
  the endpoint and 1 for the sandbox, 14 ms, queued behind every hold asked for before it. Exit j comes at
  T + 484 + 16 j ms while the starts ahead of it asked before T + 484 (s_j unchanged for j <= 47), and the last
  start asks at r_63 = T + 640 ms, after the exits j = 0..9 (T + 484 .. 628 ms; exit 10 at 644): its turn comes
  after 63 starts' and 10 teardowns' holds. The spread: 63 x 16 ms + 10 x 14 ms = 1.148 s. The teardowns'
  namespace deletions (46.2 ms each under rtnl) come after their commits, so after every start has passed rtnl.
So bridge spreads 1.8 times as much as host (measured 2 to 7.5 times), but both far less than measured:
NOT reproduced (xfail): about 25 ms per start stays serialized on host and 60-220 ms on bridge in real
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
             networking: {{endpoint_commits: 2, bridge_commits: 2, netns_teardown: 46.2ms,
                          endpoint_rules: 0}}}}
    workloads:
      storm:
        arrival: {{burst: 64}}
        steps: [{{run: {{image: 'python:3.12-slim', duration: 0s, network: {network}}}}}]
    """)
    assert all(job.status == "completed" for job in result.jobs)
    starts = [span.start for span in result.spans_of("process")]
    return max(starts) - min(starts)


def test_the_spreads_are_the_slowest_lock_times_63() -> None:
    assert spread("host") == pytest.approx(63 * 5 * 0.002)
    assert spread("bridge") == pytest.approx(63 * 8 * 0.002 + 10 * 7 * 0.002)  # 10 teardowns ask before start 63


@pytest.mark.xfail(strict=True, reason="not reproduced: dsim's locks hold 10 ms per host start where about 35 ms "
                   "stay serialized in real Docker 20.10 (module docstring)")
def test_host_spreads_2_to_2_5_s() -> None:
    assert 0.75 * 2.0 <= spread("host") <= 1.25 * 2.5


@pytest.mark.xfail(strict=True, reason="not reproduced: dsim's locks hold about 18 ms per bridge start where "
                   "80-230 ms stay serialized in real Docker 20.10 (module docstring)")
def test_bridge_spreads_5_to_15_s() -> None:
    assert 0.75 * 5.0 <= spread("bridge") <= 1.25 * 15.0
