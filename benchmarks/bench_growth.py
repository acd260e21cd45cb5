"""Growth: 10x the jobs should cost at most 11x the CPU time (2,000 -> 20,000 container jobs on 100 hosts).

Both sizes run ``scenarios.container_jobs`` (the load per host does not depend on the job count, so the
simulated time grows with it); the wall time covers building the world, running it and the summary.
The two sizes alternate, ``--repeat`` times each, and each keeps its fastest run (the least disturbed by
other processes; alternating, a spell of load on a shared machine hits both sizes alike).
Simulated as ``dsim run`` (and a sweep run) does: inside ``dsim.gc_tuning.fewer_gc_passes`` (the twin too:
``bench_common.with_run_collector``).
Judged on CPU time (equal to wall time on an idle machine, barely moved by other processes on a shared
one); the wall-time ratio is printed too.

``--twin``: also time a plain SimPy twin of the shape at both sizes, alternating with dsim: for ``jobs``
bench_events' twin, for ``burst`` and ``stream`` ``ci_twin`` below (for the burst, what SimPy itself costs
when 10x the jobs are live at once: its event heap holds 10x the pending events, so every push and pop is
deeper and its working set larger). The target stays dsim's own ratio; the twin's says how much of it is the engine's.

``--shape burst``: ci-burst's work scaled out (every job at time 0, 10 per runner, so 10x the jobs is 10x the
runners pulling the CI image at once through one registry); ``--shape slots``: the same burst with
scenarios/ci-burst.yaml's 4 job slots a runner (6 of each runner's 10 jobs queue for a slot); ``--shape
stream``: the same jobs arriving as a Poisson stream on 100 runners (bench_common.ci_burst_jobs).

    .venv/bin/python benchmarks/bench_growth.py [--jobs 2000] [--factor 10] [--hosts 100] [--repeat 5]
                                               [--shape jobs|stream|burst|slots]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import SHAPES, container_jobs, describe, shaped, simulate_timed, with_run_collector  # noqa: E402

TARGET = 11.0

#: ci_burst_jobs's image: 10 layers (bytes) pulled 3 at a time, from a 1 Gbps registry
_LAYERS = (48e6, 24e6, 64e6, 211e6, 6e6, 20e6, 3e6, 310e6, 45e6, 250e6)


def ci_twin(jobs: int, *, burst: bool = True, seed: int = 42) -> tuple[int, float, float, float]:
    """A plain SimPy twin of ``ci_burst_jobs(jobs, burst=burst)`` with the events of dsim's mechanism and
    nothing else. ``burst``: every job at time 0, 10 per runner; else Poisson arrivals on 100 runners at half
    their CPU capacity, round-robin. Per runner a Resource of 8 daemon workers and a netns lock.

    A job: the pull call and the pull's registry round trips (HEAD of the manifest answered 401, the token,
    HEAD; then, unless the image is already there, GET of the manifest and of the config:
    docs/distribution.md); a runner's first pull starts the 10 layers' downloads, 3 at a time (each a timeout
    at its fair share of the registry's 1 Gbps among every runner's 3 downloads) and their extraction in
    order (a timeout each, gzip at 200 MiB/s of about twice the layer's bytes), and every pull on the runner
    until then waits for each layer's download and then its extraction, as Docker's joined pulls show every
    layer; then create (call, CPU then wait), start (call, mount, the netns lock, runc create as CPU then
    wait, exec), the run (lognormal, mean 4 min) and rm (call and its step). Returns (events processed, wall
    and CPU seconds of ``env.run``, CPU seconds of building and running it)."""
    built = time.process_time()
    env = simpy.Environment()
    rng = random.Random(seed)
    runners = max(1, jobs // 10) if burst else 100
    workers = [simpy.Resource(env, capacity=8) for _ in range(runners)]
    netns = [simpy.Resource(env, capacity=1) for _ in range(runners)]
    layers: list[list[tuple[simpy.Event, simpy.Event]] | None] = [None] * runners
    share = 1e9 / 8 / (3 * runners)
    extract_rate = 200 * 2**20 / 2  # gzip's output rate on one core; about twice the compressed bytes out

    def api(runner: int) -> Generator[Any, Any, None]:
        with workers[runner].request() as request:
            yield request
            yield env.timeout(rng.expovariate(500.0))

    def download(slots: simpy.Resource, size: float, done: simpy.Event) -> Generator[Any, Any, None]:
        with slots.request() as request:
            yield request
            yield env.timeout(size / share)
        done.succeed()

    def extract(pairs: list[tuple[simpy.Event, simpy.Event]]) -> Generator[Any, Any, None]:
        for (downloaded, extracted), size in zip(pairs, _LAYERS, strict=True):
            yield downloaded
            yield env.timeout(size / extract_rate)
            extracted.succeed()

    def pull(runner: int) -> Generator[Any, Any, None]:
        yield from api(runner)
        pairs = layers[runner]
        up_to_date = pairs is not None and pairs[-1][1].processed  # every layer in when the pull began
        for _ in range(3):               # HEAD (401), token, HEAD
            yield env.timeout(0.02)
        if up_to_date:
            return                       # "Image is up to date"
        for _ in range(2):               # GET manifest, GET config
            yield env.timeout(0.02)
        pairs = layers[runner]
        if pairs is None:                # the first pull fetches; the others join its downloads
            pairs = layers[runner] = [(env.event(), env.event()) for _ in _LAYERS]
            slots = simpy.Resource(env, capacity=3)
            for (downloaded, _), size in zip(pairs, _LAYERS, strict=True):
                env.process(download(slots, size, downloaded))
            env.process(extract(pairs))
        for downloaded, extracted in pairs:
            yield downloaded
            yield extracted

    def step(cost: float, share: float = 0.37) -> Generator[Any, Any, None]:
        yield env.timeout(cost * share)  # CPU
        yield env.timeout(cost * (1 - share))  # the wait

    def job(runner: int) -> Generator[Any, Any, None]:
        yield from pull(runner)
        yield from api(runner)           # create
        yield from step(0.06)
        yield from api(runner)           # start
        yield env.timeout(0.02)          # mount
        with netns[runner].request() as request:
            yield request
            yield env.timeout(0.01)
        yield from step(0.454)           # runc create
        yield env.timeout(0.02)          # exec
        yield env.timeout(rng.lognormvariate(5.35, 0.5))  # run: mean exp(5.35 + 0.125) = 239 s
        yield from api(runner)           # rm
        yield env.timeout(0.01)

    def arrivals() -> Generator[Any, Any, None]:
        rate = runners * 4 / 240 * 0.5  # as ci_burst_jobs: half the runners' capacity of 4 jobs of 4 min
        for number in range(jobs):
            yield env.timeout(rng.expovariate(rate))
            env.process(job(number % runners))

    if burst:
        for number in range(jobs):
            env.process(job(number % runners))
    else:
        env.process(arrivals())
    wall, cpu = time.perf_counter(), time.process_time()
    env.run()
    end = time.process_time()
    return next(env._eid) - len(env._queue), time.perf_counter() - wall, end - cpu, end - built


def twin(shape: str, jobs: int, hosts: int) -> float:
    """CPU seconds of the plain SimPy twin of ``shape`` at ``jobs`` (building it included for ``burst``)."""
    if shape in ("burst", "stream"):
        return with_run_collector(lambda: ci_twin(jobs, burst=shape == "burst"))[3]
    from bench_events import raw_simpy

    return with_run_collector(lambda: raw_simpy(jobs, hosts))[2]


def measure(jobs: int, hosts: int, shape: str = "jobs") -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, events) of building, running and summarising the scenario."""
    timing = simulate_timed(container_jobs(jobs, hosts) if shape == "jobs" else shaped(shape, jobs))
    assert timing.summary["jobs"]["completed"] == jobs, timing.summary["jobs"]
    return timing.cpu, timing.wall, int(timing.summary["events"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shape", choices=SHAPES, default="jobs")
    parser.add_argument("--twin", action="store_true", help="also time the shape's plain SimPy twin")
    args = parser.parse_args(argv)
    if args.twin and args.shape == "slots":
        parser.error("--twin: the slots shape has no twin (its jobs queue for job slots, which the twins do not model)")
    print(describe())
    limit = TARGET * args.factor / 10
    sizes = (args.jobs, args.jobs * args.factor)
    runs: dict[int, list[tuple[float, float, int]]] = {jobs: [] for jobs in sizes}
    twins: dict[int, list[float]] = {jobs: [] for jobs in sizes}
    for _ in range(args.repeat):
        for jobs in sizes:
            runs[jobs].append(measure(jobs, args.hosts, args.shape))
            if args.twin:
                twins[jobs].append(twin(args.shape, jobs, args.hosts))
    cpu = {jobs: min(run[0] for run in runs[jobs]) for jobs in sizes}
    wall = {jobs: min(run[1] for run in runs[jobs]) for jobs in sizes}
    for jobs in sizes:
        print(f"{jobs:>8,} jobs ({args.shape}): {cpu[jobs]:.2f} s CPU, {wall[jobs]:.2f} s wall "
              f"(best of {args.repeat}), "
              f"{runs[jobs][0][2]:,} events")
    big, small = args.jobs * args.factor, args.jobs
    ratio = cpu[big] / cpu[small]
    print(f"{args.factor}x the jobs cost {ratio:.2f}x the CPU time (wall: {wall[big] / wall[small]:.2f}x; "
          f"target <= {limit:g}): {'ok' if ratio <= limit else 'MISSED'}")
    if args.twin:
        small_twin, big_twin = min(twins[small]), min(twins[big])
        print(f"plain SimPy twin: {small_twin:.2f} -> {big_twin:.2f} s CPU (best of {args.repeat}, alternating "
              f"with dsim): {args.factor}x the jobs cost {big_twin / small_twin:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
