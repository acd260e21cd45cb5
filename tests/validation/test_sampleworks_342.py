"""prism-science/sampleworks#342 (https://github.com/prism-science/sampleworks/pull/342): cold pulls of a
14.4 GB image on Kubernetes GPU nodes (containerd) from Harbor, which redirects every blob GET to a presigned
S3 URL (us-west-1). Measured on live nodes: one flow to S3 moves about 74 MB/s, so the image's one 10.1 GB
checkpoint layer takes about 137 s on its own; 4 parallel S3 flows aggregate about 247 MB/s (3.3x).

Parameters (one environment): the registry redirects blobs (`blob_redirect`) and each connection carries
at most 74 MB/s (`stream_rate`, the measured single-flow rate: the one calibrated value); the node's NIC
(25 Gbps, a GPU node's) and S3's egress do not bind; containerd's download slots raised to 4 for the
4-flow row.

What is compared is the flows, as the PR measured them ("a single flow to S3 measures ~74 MB/s", "Measured
on live nodes: 4 parallel S3 flows aggregate ~247 MB/s"; its 137 s is 10.1 GB at that rate), not
containerd's commits: dsim's download span now ends with the content store syncing the blob
(docs/networks-storage.md: The page cache), the bytes of its last 30 s (2.2 GB of each of these blobs) at
the disk's rate, which the PR's flows did not include and whose disk it does not describe. The node's writes
are therefore free here (`write_rate: inf`), so the download spans are the flows alone. With dsim's default
disk (400 MiB/s) the 10.1 GB layer's download would end 5.3 s later, and the four 2.5 GB blobs' syncs,
sharing the disk, would bring the aggregate to about 182 MB/s.

Rows:
- one 10.1 GB layer on one connection: 10.1e9 / 74e6 = 136.5 s against about 137 s. This checks the
  mechanics with the calibrated rate (the two figures come from the same measurement).
- 4 flows at once, 4 equal layers: predicted 4 x 74 = 296 MB/s in all (the cap binds each stream, nothing
  else binds) against 247 MB/s measured: +20%, inside 25% (single measurements). dsim gives every stream
  the same rate; the measured flows differed (single S3 streams vary with the front end they land on,
  beam-cloud/beta9#1876), so the aggregate falls short of 4 x the typical flow.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

FLOW = 74e6


def download(layers: list[float], slots: int) -> float:
    """Seconds from the first blob's download start to the last one's end."""
    text = f"""
    name: sampleworks-342
    registries:
      harbor: {{bandwidth: 100GB/s, latency: 0s, blob_redirect: true, stream_rate: {FLOW:.0f}B/s}}
    images:
      app:1: {{registry: harbor, layers: [{", ".join(f"{size:.0f}" for size in layers)}]}}
    hosts:
      gpu: {{cpus: 32, memory: 256GiB, disk: 2TB, nic: 25Gbps, storage: {{write_rate: inf}},
             daemon: {{max_concurrent_downloads: {slots}, api_service_time: 0s}}}}
    workloads:
      pull: {{arrival: {{burst: 1}}, steps: [{{pull: "app:1"}}]}}
    """
    spans = run_text(text).spans_of("download")
    return max(s.end for s in spans) - min(s.start for s in spans)


def test_one_10_gb_layer_on_one_flow_takes_137_seconds() -> None:
    assert download([10.1e9], slots=3) == pytest.approx(137.0, rel=0.05)


def test_four_flows_aggregate_about_247_mb_per_second() -> None:
    size = 2.5e9
    aggregate = 4 * size / download([size] * 4, slots=4)
    assert aggregate == pytest.approx(4 * FLOW)
    assert aggregate == pytest.approx(247e6, rel=0.25)
