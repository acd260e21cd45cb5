"""moby#25824 (https://github.com/moby/moby/pull/25824), "Avoid fork on mount for overlay2 in common case":
Go benchmarks of overlay2 mounting a container's writable layer over a chain of 1, 20, 50 and 100 image
layers (moby layer/mount_test.go ``benchmarkGetBaseMountWithDepth``: ``CreateRWLayer`` over the chain, then
each iteration times ``Mount`` alone; 8 threads, 2016), before the PR (dockerd re-executed itself,
``docker-mountfrom``, for every mount) and after it (a helper only when the options do not fit a page):

    depth      before (ns/op)   after (ns/op)
    1          7,744,409        231,444
    20         8,324,308        307,961
    50         8,482,378        420,499
    100        8,252,170        7,976,995

Parameters (one environment): the step is the mount alone, so ``runtime.mount`` is the one-layer mount,
231.444 us (the calibrated value, from row 1 after), covering one layer (``overlay.covered_layers: 1``).
dsim's defaults ``overlay.per_layer`` (3.86 us) and the helper's 7.51 ms come from this PR's rows too
(50 after: (420.499 - 231.444) / 49 = 3.858 us; 1 before less 1 after: 7.513 ms), so rows 1 and 50 after
and 1 before are where the values come from; the five other rows are predicted. After the PR the helper runs
past a page (``page_layers: 70``, dsim's default for /var/lib/docker; the benchmark's root is not given, and
any threshold from 50 to 99 layers gives the same rows); before it, for every mount (``page_layers: 0``).
By the rule mount = 231.444 us + (n - 1) x 3.86 us (+ 7.51 ms with the helper):

- after, 20 layers: 231.444 + 19 x 3.86 = 304.784 us against 307.961 (-1.0%)
- after, 100 layers (past a page): 231.444 + 99 x 3.86 + 7,510 = 8,123.584 us against 7,976.995 (+1.8%)
- before, 20: 304.784 + 7,510 = 7,814.784 us against 8,324.308 (-6.1%)
- before, 50: 231.444 + 49 x 3.86 + 7,510 = 7,930.584 us against 8,482.378 (-6.5%)
- before, 100: 8,123.584 us against 8,252.170 (-1.6%)
Tolerance 15%. Deterministic: one run is the average.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: (depth, helper for every mount (before the PR), measured ns/op)
ROWS = [
    (1, False, 231_444), (20, False, 307_961), (50, False, 420_499), (100, False, 7_976_995),
    (1, True, 7_744_409), (20, True, 8_324_308), (50, True, 8_482_378), (100, True, 8_252_170),
]


def mount_seconds(depth: int, always_helper: bool) -> float:
    page = 0 if always_helper else 70
    result = run_text(f"""
    name: moby-25824
    registries: {{reg: {{bandwidth: 1Gbps, latency: 5ms}}}}
    images:
      chain:1: {{registry: reg, layers: [{', '.join(['1KB'] * depth)}]}}
    hosts:
      bench: {{cpus: 8, memory: 16GiB, preloaded: ['chain:1'],
               runtime: {{mount: 231.444us, overlay: {{covered_layers: 1, helper: 7.51ms, page_layers: {page}}}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: 'chain:1', detach: true}}}}]}}
    """)
    [span] = result.spans_of("mount")
    return span.end - span.start


@pytest.mark.parametrize(("depth", "always_helper", "measured_ns"), ROWS)
def test_mount_by_depth_within_15_percent(depth: int, always_helper: bool, measured_ns: int) -> None:
    predicted = mount_seconds(depth, always_helper)
    assert abs(predicted - measured_ns * 1e-9) <= 0.15 * measured_ns * 1e-9


def test_the_predicted_rows_by_hand() -> None:
    assert mount_seconds(20, False) == pytest.approx(304.784e-6)
    assert mount_seconds(100, False) == pytest.approx(8123.584e-6)
    assert mount_seconds(50, True) == pytest.approx(7930.584e-6)
