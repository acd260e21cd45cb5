"""docker/for-linux#423 (https://github.com/docker/for-linux/issues/423), "degraded performance with cpu-quota and
hyper-threading", and its scripts and results (https://github.com/sezuan/cpu-quota-vs-ht, README.md): one container
runs N processes that each compute PBKDF2 (2,000 iterations) in a loop; the script counts the requests finished in
4 s, after 1 s of warm-up, and prints the rate. Docker 18.06.1-ce on a Core i7 with 4 cores and 8 hardware threads,
N = 1 to 8, one run each, in three configurations:

| N | no limit, HT on | ``--cpu-quota 200000 --cpu-period 100000``, HT on | the same quota, HT off |
|---|---|---|---|
| 1 | 22.7 | 22.2 | 22.5 |
| 2 | 44.7 | 44.0 | 43.0 |
| 3 | 65.7 | 41.2 | 43.2 |
| 4 | 87.4 | 42.0 | 43.2 |
| 5 | 85.9 | 29.9 | 44.5 |
| 6 | 85.2 | 27.5 | 44.5 |
| 7 | 84.5 | 23.7 | 44.7 |
| 8 | 79.4 | 22.0 | 45.2 |

Parameter set (environment "the issue's i7"): ``cpus`` is the machine's hardware threads, as dsim counts cores
(8 with hyper-threading, 4 without); the quota of 200 ms per 100 ms period is ``cpus: 2`` on the run step
(--cpus 2); the N processes are ``threads: N``, each CPU-bound. One calibrated value: the CPU time of one request,
1 / 22.7 s, from the row N = 1, no limit (one process alone on the machine). Every other figure is predicted:
dsim's processor sharing gives the container min(N, quota, cpus) cores, so the rate is 22.7 x min(N, 2, cpus)
with the quota and 22.7 x min(N, 8) without.

Tolerance 25% (each figure is one run of the script). Not reproduced (strict xfail): without a limit, N = 5 to 8
(+32% to +129%): dsim counts a hardware thread as a core, where a core's second thread adds almost nothing to this
benchmark (the rate stops at about 4 cores' worth); with the quota and hyper-threading, N = 5 to 8 (+52% to +106%):
the quota is charged for every hardware thread a process runs on, so N threads spread over hyper-threaded siblings
use up 200 ms of quota while doing much less work than 2 cores' worth (at N = 8, 79.4 x 2 / 8 = 19.9 requests/s,
near the measured 22.0). With hyper-threading off (4 cores), every row agrees.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

PER_REQUEST = 1 / 22.7  # CPU-seconds of one PBKDF2 request on one core: the calibrated value (N = 1, no limit)
REQUESTS = 1000  # requests simulated per figure; the rate does not depend on it

NO_LIMIT_HT = {1: 22.7, 2: 44.7, 3: 65.7, 4: 87.4, 5: 85.9, 6: 85.2, 7: 84.5, 8: 79.4}
QUOTA_HT = {1: 22.2, 2: 44.0, 3: 41.2, 4: 42.0, 5: 29.9, 6: 27.5, 7: 23.7, 8: 22.0}
QUOTA_NO_HT = {1: 22.5, 2: 43.0, 3: 43.2, 4: 43.2, 5: 44.5, 6: 44.5, 7: 44.7, 8: 45.2}

HT_SIBLINGS = ("dsim counts a hardware thread as a core; on this i7 a core's second thread adds almost nothing "
               "(the measured rate stays near 4 cores' worth past N = 4)")
QUOTA_ON_SIBLINGS = ("the CFS quota is charged per hardware thread: N processes spread over hyper-threaded siblings "
                     "spend the 2 CPUs' quota at about half a core's speed each; dsim gives the container 2 full cores")


def rate(*, host_cpus: int, processes: int, quota: float | None) -> float:
    """Requests per second of one container running ``processes`` CPU-bound processes."""
    cpus = f", cpus: {quota}" if quota is not None else ""
    result = run_text(f"""
    name: cpu-quota-vs-ht
    hosts:
      i7: {{cpus: {host_cpus}, memory: 16GiB, preloaded: [python:3.12]}}
    workloads:
      bench:
        arrival: {{burst: 1}}
        steps:
          - run: {{image: "python:3.12", cpu_time: {REQUESTS * PER_REQUEST:.9f}s, threads: {processes}{cpus}}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [process] = result.spans_of("process")
    return REQUESTS / float(process.duration)


@pytest.mark.parametrize("processes", range(1, 9))
def test_the_rate_is_one_request_rate_times_the_cores_the_container_gets(processes: int) -> None:
    # processor sharing, one container alone: min(N, quota, host cores) cores at 22.7 requests/s each
    assert rate(host_cpus=8, processes=processes, quota=None) == pytest.approx(22.7 * processes, rel=1e-6)
    assert rate(host_cpus=8, processes=processes, quota=2) == pytest.approx(22.7 * min(processes, 2), rel=1e-6)
    assert rate(host_cpus=4, processes=processes, quota=2) == pytest.approx(22.7 * min(processes, 2), rel=1e-6)


def test_one_process_without_a_limit_is_the_calibrated_row() -> None:
    assert rate(host_cpus=8, processes=1, quota=None) == pytest.approx(NO_LIMIT_HT[1], rel=1e-6)


@pytest.mark.parametrize("processes", [
    2, 3, 4,
    *(pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=HT_SIBLINGS)) for n in (5, 6, 7, 8)),
])
def test_no_limit_with_hyper_threading(processes: int) -> None:
    assert rate(host_cpus=8, processes=processes, quota=None) == pytest.approx(NO_LIMIT_HT[processes], rel=0.25)


@pytest.mark.parametrize("processes", [
    1, 2, 3, 4,
    *(pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=QUOTA_ON_SIBLINGS)) for n in (5, 6, 7, 8)),
])
def test_a_two_cpu_quota_with_hyper_threading(processes: int) -> None:
    assert rate(host_cpus=8, processes=processes, quota=2) == pytest.approx(QUOTA_HT[processes], rel=0.25)


@pytest.mark.parametrize("processes", range(1, 9))
def test_a_two_cpu_quota_without_hyper_threading(processes: int) -> None:
    assert rate(host_cpus=4, processes=processes, quota=2) == pytest.approx(QUOTA_NO_HT[processes], rel=0.25)
