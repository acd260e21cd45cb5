"""containerd#13559: one 2.7 GiB gzip layer (tensorflow/tensorflow:2.21.0-gpu's largest) pulled from Docker
Hub to an EC2 VM over one TCP connection: fetch about 15 s; gzip inflate with Go's stdlib about 30 s
(35 s on a Xeon 8488C, 33 s on NVIDIA Grace); tar decode and writes well under the inflate time.

Parameters:
- the fetch: the issue gives the transfer time, not the bandwidth, so the host's link is set from it
  (2.7 GiB / 15 s = 193 MB/s). This half is a check of the transfer mechanics only (bytes over
  bandwidth plus the requests' round trips), not an independent prediction;
- the inflate: a prediction from dsim's defaults: the uncompressed size at the catalog's median ratio 2.7
  (the issue does not give it) and gunzip at 200 MiB/s of output (containerd#13560: 170-250 MiB/s).
  Predicted 2.7 x 2.7 GiB / 200 MiB/s = 37.3 s. Its 7.8 GB of files go through the page cache of the 32 GiB VM
  (setpoint 17.5%: 6.0 GB): the writer waits for the 1.8 GB beyond it, 4.3 s at dsim's default 400 MiB/s, well
  under the inflate.

dsim's download span holds one more thing: containerd's content store fsyncs the blob as it commits it
(content/local/writer.go, ``Commit``: ``fp.Sync()``), inside the download, and a blob fetched in under the
kernel's 30 s expiry is still all dirty then: 2.7 GiB / 400 MiB/s = 6.91 s (the VM's disk is not given; the issue
puts persisting the files at "<< 10 s" on reasonable local storage). The issue's "Fetch: ~15 s (Docker Hub -> EC2
VM, single TCP connection)" is the transfer, so it is compared with the span less that fsync, worked out by hand.

Tolerance: the fetch within 5% of 15 s; the inflate between 30 s - 20% and 35 s + 10% (the measured range
on server CPUs, widened because the layer's real compression ratio is unknown: a ratio of 2.2, usual for
binaries, would give 30.4 s).

Where dsim differs: the issue describes fetch, inflate and writes as streaming, so the total is about the
slowest stage (about 30 s). dsim follows Docker's pipeline as docs/real-docker.md (Pull 5) states it: a layer
is unpacked once its blob is in the content store, so a one-layer pull takes fetch + the blob's fsync + inflate
(about 59.5 s). With many layers the stages overlap across layers, which is what the unpack-in-order tests check.
Deterministic: one run is the average.

The issue times containerd's own pull, no dockerd. dsim's defaults for what a pull's bytes and files cost the daemon
(receive_rate, apply_rate, apply_per_file: docs/distribution.md, What a pull's bytes cost) are Docker 28.5.2's
(dockerd with containerd) measured on a 2-vCPU VM; containerd's own and the EC2 VM's are not measured, so this
validation leaves them out (``PULL_COSTS_LEFT_OUT``), as dsim did before session 58. With the VM's figures the
unpack would take 75.8 s, the applier's work on the layer's 7.3 GB counted as 365,000 entries of 20 KB (a layer of
CUDA libraries has far larger files, and the issue puts the tar decode and writes well under the inflate's 30 s).
"""

from __future__ import annotations

import pytest

from tests.helpers import PULL_COSTS_LEFT_OUT, run_text

LAYER = 2.7 * 2**30
WRITE_RATE = 400 * 2**20  # dsim's default storage.write_rate
#: the content store's fsync of the blob at its commit: all of it, fetched in under 30 s, is still dirty
FSYNC = LAYER / WRITE_RATE


def test_fetch_and_inflate_of_one_large_layer() -> None:
    result = run_text(f"""
    name: containerd-13559
    registries:
      hub: {{bandwidth: 40Gbps, latency: 50ms, auth: token}}
    images:
      tensorflow:2.21.0-gpu: {{layers: [{LAYER:.0f}]}}
    hosts:
      ec2: {{cpus: 8, memory: 32GiB, nic: {LAYER / 15:.0f}B/s, disk: 100GiB, storage: {{{PULL_COSTS_LEFT_OUT}}}}}
    workloads:
      pull: {{arrival: {{burst: 1}}, steps: [{{pull: "tensorflow:2.21.0-gpu"}}]}}
    """)
    [download] = result.spans_of("download")
    [unpack] = result.spans_of("unpack")
    fetch = download.duration - FSYNC  # the transfer: the span less the commit's fsync
    inflate = unpack.duration
    assert 6.91 < FSYNC < 6.92
    assert fetch == pytest.approx(15.0, rel=0.05)
    # by hand: the blob GET's 50 ms to the registry, 2.7 GiB over the link set from 15 s, the fsync
    assert download.duration == pytest.approx(0.05 + 15.0 + FSYNC, rel=1e-6)
    assert 30 * 0.8 <= inflate <= 35 * 1.1
    assert inflate == pytest.approx(2.7 * LAYER / (200 * 2**20))
    # Docker's order: the unpack starts when the blob is committed
    assert unpack.start == pytest.approx(download.end)
