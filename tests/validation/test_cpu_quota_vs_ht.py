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

Parameter set (environment "the issue's i7"): the machine's documented topology, ``cpus: 8, threads_per_core: 2``
with hyper-threading on (4 cores x 2 threads) and ``cpus: 4`` with it off; ``smt_gain`` dsim's default (0.3, IBM's
Hyper-Threading measurement on Linux: not fitted to these rows). The quota of 200 ms per 100 ms period is
``cpus: 2`` on the run step (--cpus 2); the N processes are ``threads: N``, each CPU-bound. One calibrated value: the
CPU time of one request, 1 / 22.7 s, from the row N = 1, no limit (one process alone on the machine). Every other
figure is predicted: with B* hardware threads occupied (N without a limit; with the quota, N while the quota lasts,
as CFS runs all N at once and throttles them when it is spent) the 4 cores do T(B*) = B* up to 4, then
4 + 0.3 (B* - 4); the container gets min(N, quota) logical CPUs at T(B*) / B* each.

Tolerance 25% (each figure is one run of the script). Not reproduced (strict xfail): without a limit, N = 7 and 8
(+32%, +49%): PBKDF2 is ALU-bound and a core's second thread adds almost nothing to it (the rate stays near 4
cores' worth, 79-87), where the default gain gives a busy core 30% more; with the quota and hyper-threading,
N = 5 to 8 (+27% to +34%): dsim now charges the quota per hardware thread (N threads on siblings spend the 2 CPUs'
quota at T(N) / N of a core each), but with this benchmark's near-zero gain the measured rates fall further still
(at N = 8, 22.0 against 2 x 4 / 8 = 1 core's worth, 22.7, at a gain of 0). With hyper-threading off (4 cores), every
row agrees.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

PER_REQUEST = 1 / 22.7  # CPU-seconds of one PBKDF2 request on one core: the calibrated value (N = 1, no limit)
REQUESTS = 1000  # requests simulated per figure; the rate does not depend on it

NO_LIMIT_HT = {1: 22.7, 2: 44.7, 3: 65.7, 4: 87.4, 5: 85.9, 6: 85.2, 7: 84.5, 8: 79.4}
QUOTA_HT = {1: 22.2, 2: 44.0, 3: 41.2, 4: 42.0, 5: 29.9, 6: 27.5, 7: 23.7, 8: 22.0}
QUOTA_NO_HT = {1: 22.5, 2: 43.0, 3: 43.2, 4: 43.2, 5: 44.5, 6: 44.5, 7: 44.7, 8: 45.2}

HT_SIBLINGS = ("PBKDF2 is ALU-bound: on this i7 a core's second thread adds almost nothing (the measured rate stays "
               "near 4 cores' worth past N = 4), where dsim's default smt_gain gives a busy core 30% more")
QUOTA_ON_SIBLINGS = ("the CFS quota is charged per hardware thread and dsim charges it so, but at the default gain of "
                     "0.3 the siblings still do more than this ALU-bound benchmark's threads did")
SMT_GAIN = 0.3  # dsim's default (dsim/domain/hosts.py SMT_GAIN): IBM's Hyper-Threading measurement, not these rows


def throughput(busy: float, cores: int) -> float:
    """T(B): the work of ``busy`` hardware threads on ``cores`` cores of 2 threads at the default gain."""
    return busy if busy <= cores else cores + SMT_GAIN * (busy - cores)


def predicted(*, ht: bool, processes: int, quota: float | None) -> float:
    """The closed form dsim should give: min(N, quota) logical CPUs at T(B*) / B* each, B* = min(N, threads)."""
    logical = min(processes, quota) if quota is not None else min(processes, 8 if ht else 4)
    if not ht:
        return 22.7 * logical
    occupied = min(processes, 8)
    return 22.7 * logical * throughput(occupied, 4) / occupied


def rate(*, ht: bool, processes: int, quota: float | None) -> float:
    """Requests per second of one container running ``processes`` CPU-bound processes."""
    cpus = f", cpus: {quota}" if quota is not None else ""
    host = "cpus: 8, threads_per_core: 2" if ht else "cpus: 4"
    result = run_text(f"""
    name: cpu-quota-vs-ht
    hosts:
      i7: {{{host}, memory: 16GiB, preloaded: [python:3.12]}}
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
def test_the_rate_is_the_closed_form(processes: int) -> None:
    for ht, quota in ((True, None), (True, 2), (False, 2)):
        assert rate(ht=ht, processes=processes, quota=quota) == pytest.approx(
            predicted(ht=ht, processes=processes, quota=quota), rel=1e-6)


def test_one_process_without_a_limit_is_the_calibrated_row() -> None:
    assert rate(ht=True, processes=1, quota=None) == pytest.approx(NO_LIMIT_HT[1], rel=1e-6)


@pytest.mark.parametrize("processes", [
    2, 3, 4, 5, 6,
    *(pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=HT_SIBLINGS)) for n in (7, 8)),
])
def test_no_limit_with_hyper_threading(processes: int) -> None:
    assert rate(ht=True, processes=processes, quota=None) == pytest.approx(NO_LIMIT_HT[processes], rel=0.25)


@pytest.mark.parametrize("processes", [
    1, 2, 3, 4,
    *(pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=QUOTA_ON_SIBLINGS)) for n in (5, 6, 7, 8)),
])
def test_a_two_cpu_quota_with_hyper_threading(processes: int) -> None:
    assert rate(ht=True, processes=processes, quota=2) == pytest.approx(QUOTA_HT[processes], rel=0.25)


@pytest.mark.parametrize("processes", range(1, 9))
def test_a_two_cpu_quota_without_hyper_threading(processes: int) -> None:
    assert rate(ht=False, processes=processes, quota=2) == pytest.approx(QUOTA_NO_HT[processes], rel=0.25)
