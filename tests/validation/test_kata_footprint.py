"""Kata Containers' memory footprint per container with Cloud Hypervisor: the Kata CI's baseline for its
"memory-footprint" metric (the average host memory per container of many idle containers) is 127,220.25
KB on its metric8 worker. Source: kata-containers/kata-containers
tests/metrics/cmd/checkmetrics/ci_worker/checkmetrics-json-clh-kata-metric8.toml
(https://github.com/kata-containers/kata-containers/blob/main/tests/metrics/cmd/checkmetrics/ci_worker/checkmetrics-json-clh-kata-metric8.toml);
the baseline is the value the CI checks its runs against (within -20%/+20%).

Parameter set (environment "Kata CI metric8 worker"): nothing calibrated. dsim's kata-clh profile holds
130 MiB per sandbox, the overhead Kata's own RuntimeClass declares to Kubernetes (kata-runtimeClasses.yaml,
an independent figure), and the idle container's own memory is taken as 0. Predicted: 130 MiB = 133,120 KB
against 127,220 KB, +4.6%.

Tolerance 15%.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

MEASURED_KB = 127220.25


def test_kata_clh_footprint_per_container() -> None:
    count = 20
    result = run_text(f"""
    name: kata-footprint
    hosts:
      worker: {{cpus: 8, memory: 32GiB, preloaded: [nginx]}}
    workloads:
      idle:
        arrival: {{every: 2s, count: {count}}}
        steps:
          - run: {{image: nginx, detach: true, isolation: kata-clh}}
    """)
    per_container_kb = result.summary()["hosts"]["worker"]["peak_memory_bytes"] / count / 1024
    assert per_container_kb == pytest.approx(130 * 1024)
    assert per_container_kb == pytest.approx(MEASURED_KB, rel=0.15)
