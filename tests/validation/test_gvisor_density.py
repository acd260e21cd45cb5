"""gVisor's density benchmark: memory per container under runc and runsc, measured as the host's available
memory before and after starting 50 containers (5 for redis), divided by their number, on GCE
n1-standard-4 VMs (4 vCPU, 15 GB). Source: gVisor performance guide, "Memory usage"
(https://gvisor.dev/docs/architecture_guide/performance/), data
https://github.com/google/gvisor/blob/master/website/performance/density.csv:

| app   | runc (bytes)  | runsc (bytes) |
|-------|---------------|---------------|
| empty | 4,092,149.76  | 23,695,032.32 |
| node  | 76,709,888.0  | 124,076,605.44|
| ruby  | 45,737,000.96 | 106,141,777.92|
| redis | 1,055,323,750 | 1,076,686,029 |

Parameter set (environment "GCE n1-standard-4, gVisor's benchmark"): a host of 4 cores and 15 GB; each
container's own memory (``memory_usage``) is its runc row, the input; ``isolation: runsc`` with dsim's
default runtime profile. Calibrated: the runsc profile's ``overhead`` default (19.6 MB) IS the empty row's
difference (23.7 - 4.1 MB), so the empty row is the calibrated one, not a prediction. Predicted: node,
ruby and redis under runsc = runc row + 19.6 MB.

Tolerance 15% (values from a CSV, the mean of 50 containers). Outcome: redis within 0.2%; node (-22%) and
ruby (-38%) are NOT matched: gVisor's Sentry keeps kernel state for what the application uses (the
guide: "a fixed component, plus an amount that varies with the usage of operating system resources, e.g.
how many sockets or files are opened"), and node and ruby open many files and sockets while redis's
memory is mostly its data. dsim's sandbox overhead is fixed per sandbox; the tests state the gap.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

RUNC = {"empty": 4092149.76, "node": 76709888.0, "ruby": 45737000.96, "redis": 1055323750.4}
RUNSC = {"empty": 23695032.32, "node": 124076605.44, "ruby": 106141777.92, "redis": 1076686028.8}


def per_container(app: str) -> float:
    """Host memory per runsc container of ``app``: peak memory in use / containers."""
    count = 5 if app == "redis" else 50
    result = run_text(f"""
    name: gvisor-density-{app}
    hosts:
      gce: {{cpus: 4, memory: 15GB, preloaded: [nginx]}}
    workloads:
      {app}:
        arrival: {{every: 1s, count: {count}}}
        steps:
          - run: {{image: nginx, detach: true, isolation: runsc, memory_usage: {RUNC[app]:.0f}}}
    """)
    return result.summary()["hosts"]["gce"]["peak_memory_bytes"] / count


def test_empty_the_calibrated_row() -> None:
    assert per_container("empty") == pytest.approx(RUNSC["empty"], rel=0.01)


def test_redis_predicted() -> None:
    assert per_container("redis") == pytest.approx(RUNSC["redis"], rel=0.15)


def test_node_and_ruby_not_matched_the_sentry_grows_with_the_app() -> None:
    # dsim: runc row + 19.6 MB; measured far more: stated as a gap, not hidden
    for app, error in (("node", -0.22), ("ruby", -0.38)):
        predicted = per_container(app)
        assert predicted == pytest.approx(RUNC[app] + 19.6e6, rel=1e-6)
        assert (predicted - RUNSC[app]) / RUNSC[app] == pytest.approx(error, abs=0.01)
