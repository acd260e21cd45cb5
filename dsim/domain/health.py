"""Health probes' costs: the defaults and where their numbers come from (components/health.py, docs/containers.md:
Health checks as work).

moby runs each probe as an exec in the container (daemon/health.go ``cmdProbe.run``,
https://github.com/moby/moby/blob/master/daemon/health.go): dockerd registers the exec, containerd's task
``Exec`` asks the shim, the shim runs ``runc exec``, which joins the container's namespaces and cgroup and
execs the command. Its timeout starts only once the exec has started ("The time it takes dockerd and
containerd to start the exec is time that the probe process is not running, and so should not count towards
the health check's timeout").
"""

from __future__ import annotations

import math

from dsim.distributions import constant

#: A probe's exec, from the daemon's request to the command running: 100 ms. sonic-buildimage#21920
#: (https://github.com/sonic-net/sonic-buildimage/issues/21920) timed ``docker exec CONTAINER echo success``
#: 1,000 times on an idle host: min 110 ms, mean 137 ms; that includes the docker CLI's own start and its API
#: round trips, which ``docker ps`` shows at 8-12 ms (distribution/distribution#2856); a probe has no CLI:
#: 110 - 10 = 100 ms.
PROBE_EXEC = constant(0.1)
#: Of the exec, the share that is CPU work on the host's scheduler is ``runtime.cpu.probe_exec`` (the rest
#: waits): runc's, 0.37 (domain/start_path.py RUNTIME_CPU_SHARE). A busy host stretches it: a ``docker exec ...
#: echo`` took 1.2 s on a loaded VM (sonic-net/sonic-utilities#2745), against 0.11 s idle.
#: Cores a probe's command and its exec use: one thread each (a check command is a short single process).
PROBE_THREADS = 1.0
#: moby's defaults (daemon/health.go ``defaultProbeInterval`` ... ``defaultProbeRetries``, and the Dockerfile
#: reference, https://docs.docker.com/reference/dockerfile/#healthcheck)
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
#: the probes ``docker inspect``'s ``State.Health.Log`` keeps (health.go ``maxLogEntries``)
MAX_LOG_ENTRIES = 5

#: Probes a container's check may need before it can pass, at most: beyond, a scenario would run for hours
#: (each probe is an exec, its CPU work and a few events), so it is refused when it loads, as too many jobs
#: are (scenarios/resolve.py MAX_JOBS).
MAX_PROBES = 10_000_000


def probes_before_ready(ready_s: float, interval: float, start_interval: float, start_period: float) -> float:
    """How many probes run before a process ready ``ready_s`` after its start can pass: one every
    ``start_interval`` within the start period, every ``interval`` after (probes' own time left out, so at
    most this many). Never ready (inf): none needed, the check settles as unhealthy."""
    if not math.isfinite(ready_s):
        return 0.0
    early = min(ready_s, start_period)
    return early / start_interval + (ready_s - early) / interval


def check_probes(ready_s: float, interval: float, start_interval: float, start_period: float) -> None:
    """ValueError when a check needs more than MAX_PROBES probes before it can pass."""
    probes = probes_before_ready(ready_s, interval, start_interval, start_period)
    if probes > MAX_PROBES:
        raise ValueError(f"time_to_healthy {ready_s:g}s is {probes:,.0f} probes before the check can pass (every "
                         f"{start_interval:g}s in the start period, {interval:g}s after), over dsim's limit of "
                         f"{MAX_PROBES:,} per container")
