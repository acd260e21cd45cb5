"""Volcano Engine's benchmark of Dragonfly (Dragonfly's blog, "Volcano Engine, distributed image acceleration
practice based on Dragonfly", 2023-04-13, also on the CNCF blog:
https://www.cncf.io/blog/2023/04/13/volcano-engine-distributed-image-acceleration-practice-based-on-dragonfly/;
text and charts in https://github.com/dragonflyoss/d7y.io, blog/2023-04-13-volcano-engine-distributed-image-
acceleration-practice-based-on-dragonfly/). 50, 100, 200 and 500 pods are created at once, all with one image,
and timed from creation until every container has started: once pulling straight from the registry ("OCI v1")
and once through Dragonfly v2.0.8's peer-to-peer daemons. Seconds, read off the charts' labels (one figure per
case):

| pods | nginx, OCI v1 | nginx, Dragonfly | TensorFlow, OCI v1 | TensorFlow, Dragonfly |
|---|---|---|---|---|
| 50 | 35 | 10 | 260 | 40 |
| 100 | 65 | 10 | 1,380 | 40 |
| 200 | 135 | 15 | 4,245 | 50 |
| 500 | 1,020 | 25 | 10,800 | 55 |

The environment as the blog states it: the registry's bandwidth 10 Gbit/s; the Dragonfly peers (a dfdaemon on
every node) 6 Gbit/s, 2 cores, SSD; images "Nginx (500M)" and "TensorFlow (3G)". Its charts of the traffic the
registry served give the image sizes: OCI v1 sent 27.39, 54.78, 109.57 and 273.93 GiB of nginx (0.5478 GiB
per pod at every count) and 156.74, 313.78, 626.95 and 1,567.38 GiB of TensorFlow (3.135 GiB per pod): every
pod fetched the whole image, so each pulled on a node of its own (pods sharing a node would share its content
store), while with Dragonfly the registry sent 0.54-0.82 GiB of nginx and 3.13-4.88 GiB of TensorFlow in all.

Parameters (one environment, nothing calibrated):
- the registry: 10 Gbit/s of egress (the source), dsim's 30 ms a request, no per-connection cap, the same
  region (no round trip); `p2p: true` for the Dragonfly rows, with dsim's swarm defaults (5 sources per blob,
  5 uploads per peer), the registry seeding what no peer has yet;
- the images: 588.2 MB (nginx) and 3,365.9 MB (TensorFlow) compressed, the traffic per pod; the uncompressed
  size is not published, so dsim's default ratio 2.7 applies; the layers are not published either, so each
  prediction is made for three splits (one layer; five equal layers; nine with one of 60%, as
  test_acr_pull_perf.py), and a row is within tolerance only if every split is;
- one node per pod with a 6 Gbit/s NIC (the peers' bandwidth) and dsim's default host otherwise (gunzip
  200 MiB/s on one core, writes 400 MiB/s, 3 downloads at once, create and start 0.57 s); each pod a
  detached `docker run` of the image, its time the last container's start.

Tolerance 25% (one figure per case). Two writes to the disk come into every pod's time since dsim models the
page cache (docs/networks-storage.md: The page cache), and both were in these pods' path: the kubelet's
containerd fetches every blob (through the node's dfdaemon, a registry mirror, in the Dragonfly rows) into
its content store, which syncs each blob as it commits it (its bytes still dirty, at the disk's rate: those
of its last 30 s, no more than the background threshold once the blobs came in past it);
and containerd's CRI, creating the container, resolves its additional groups by mounting the new snapshot
and unmounting it (containerd v1.6.20 pkg/cri/opts/spec_linux.go ``WithAdditionalGIDs``, oci/spec_opts.go
``mount.WithTempMount``; read-only, so without a sync, only from v1.6.21/v1.7.1 on, after this benchmark of
early 2023), and that unmount syncs the filesystem: it waits for the image the pull has just unpacked. dsim's
detached `docker run` stands in for that create (Docker's init layer is the same unmount). For nginx that is
1.4 s of blob (588 MB at 400 MiB/s, when it came in within 30 s) and 3.8 s of unpacked files (1.59 GB, all
still dirty: below the 16 GiB host's background threshold of 1.72 GB).

What dsim predicts, for the three splits:
- OCI v1 is the registry's egress shared by every node: N pods x S / 1.25 GB/s before the last layer is in,
  then the blob's sync, that layer's unpack and the create's sync. nginx: 50 pods 37.0 / 32.5 / 33.9 s (+6% to
  -7%), 100 pods 60.0 / 56.0 / 55.8 s (-8% to -14%): within. NOT reproduced: 200 pods, 100.3-106.6 s against
  135 s (-21% to -26%), 500 pods 241-248 s against 1,020 s (-76%), and TensorFlow at every count (50 pods
  160-185 s against 260 s, -29% to -38%; 100-500 pods -77% to -87%). The traffic over the time gives what the
  registry delivered on average: nginx 0.84, 0.90 and 0.87 GB/s for 50, 100 and 200 pods (about 7 Gbit/s of
  its 10), then 0.29 GB/s for 500; TensorFlow 0.65 GB/s for 50 pods, then 0.24 down to 0.16 GB/s. dsim's
  egress delivers its nominal 10 Gbit/s however many pull; the blog names what limits the real one: the
  bandwidth and the request rate (QPS) of the object storage (TOS) behind the registry.
- Dragonfly: every node fetches from its peers, at most at its NIC's 6 Gbit/s (TensorFlow's 3.4 GB in 8 s, as
  peers relay what they are still receiving), so the time is one node's pull, flat in the pod count: nginx
  14.9 / 13.7 / 12.5 s, within against 15 s for 200 pods (-1% to -17%); TensorFlow 60.3 / 57.1 / 50.5 s,
  within against 50 s and 55 s for 200 and 500 pods (+1% to +21%, -8% to +10%). NOT reproduced: nginx 50 and
  100 pods (10 s: +25% to +49%: the two syncs alone are 5.2 s of dsim's 12.5-14.9 s), nginx 500 pods (25 s:
  -41% to -50%), where Dragonfly's time grows with the swarm (its scheduler and piece exchange; dsim's fluid
  swarm has neither, as the Kraken row's tail), and TensorFlow 50 and 100 pods (40 s: +26% to +51%), where
  the unpack of 9.1 GB at dsim's gunzip rate alone takes 43 s: the image compresses less than dsim's 2.7 or
  unpacked faster than one core of Go's gzip (containerd uses unpigz where installed). Before the page cache
  the nginx rows were 8.5-9.7 s: 50 and 100 pods within, 200 pods not.
Pod scheduling and sandbox creation, which the measured times include, are not modelled (about a second).

These pods' nodes pulled with containerd's CRI, no dockerd. dsim's defaults for what a pull's bytes and files cost
the daemon (receive_rate, apply_rate, apply_per_file: docs/distribution.md, What a pull's bytes cost) are Docker
28.5.2's (dockerd with containerd) measured on a 2-vCPU VM; containerd's own and these nodes' are not measured, so
this validation leaves them out (``PULL_COSTS_LEFT_OUT``), as dsim did before session 58. With the VM's figures
nginx's 50 pods on the OCI path take 44.8 s against 35 s (+28%): the image's 1.59 GB counted as 79,000 entries of 20
KB (its files are not published).
"""

from __future__ import annotations

import functools

import pytest

from tests.helpers import PULL_COSTS_LEFT_OUT, run_text

GIB = 2**30
#: compressed bytes per pod: the registry's OCI v1 traffic for 50 pods over 50 (the charts; the same per pod
#: at 100, 200 and 500 within 0.1%)
IMAGE = {"nginx": 27.39 * GIB / 50, "tensorflow": 156.74 * GIB / 50}
#: (image, Dragonfly?) -> {pods: seconds from creation until every container has started}
MEASURED = {("nginx", False): {50: 35.0, 100: 65.0, 200: 135.0, 500: 1020.0},
            ("nginx", True): {50: 10.0, 100: 10.0, 200: 15.0, 500: 25.0},
            ("tensorflow", False): {50: 260.0, 100: 1380.0, 200: 4245.0, 500: 10800.0},
            ("tensorflow", True): {50: 40.0, 100: 40.0, 200: 50.0, 500: 55.0}}
REGISTRY = 10e9 / 8  # bytes/s
SPLITS = ("one", "five", "nine")
TOLERANCE = 0.25


def layers(total: float, split: str) -> list[float]:
    if split == "one":
        return [total]
    if split == "five":
        return [total / 5] * 5
    return [total * 0.05] * 8 + [total * 0.6]


@functools.cache
def run(image: str, pods: int, dragonfly: bool, split: str) -> tuple[float, float]:
    """(seconds from the pods' creation until the last container has started, bytes the registry sent)."""
    blobs = ", ".join(f"{size:.0f}" for size in layers(IMAGE[image], split))
    result = run_text(f"""
    name: volcano-{image}-{pods}
    registries:
      cr: {{bandwidth: 10Gbps, p2p: {str(dragonfly).lower()}}}
    images:
      app:1: {{registry: cr, layers: [{blobs}]}}
    hosts:
      node: {{count: {pods}, nic: 6Gbps, storage: {{{PULL_COSTS_LEFT_OUT}}}}}
    workloads:
      pods:
        arrival: {{burst: {pods}}}
        steps: [{{run: {{image: "app:1", detach: true}}}}]
    """)
    assert len(result.jobs) == pods and {job.status for job in result.jobs} == {"completed"}
    return max(job.end_s for job in result.jobs), result.summary()["registries"]["cr"]["bytes_sent"]


def last_start(image: str, pods: int, dragonfly: bool, split: str) -> float:
    return run(image, pods, dragonfly, split)[0]


MISSES = {
    ("nginx", False, 200): "100-107 s against 135 s: the registry delivered about 7 Gbit/s on average, dsim 10",
    ("nginx", False, 500): "about 245 s against 1,020 s: the registry's storage (TOS) collapses at 500 pods",
    ("tensorflow", False, 50): "160-185 s against 260 s: the registry delivered 5.2 Gbit/s on average",
    ("tensorflow", False, 100): "about 300 s against 1,380 s: the registry's storage collapses",
    ("tensorflow", False, 200): "about 570 s against 4,245 s: the registry's storage collapses",
    ("tensorflow", False, 500): "about 1,380 s against 10,800 s: the registry's storage collapses",
    ("nginx", True, 50): "12.5-14.9 s against 10 s: the blob's sync and the create's sync of the unpacked image "
                         "add 5.2 s to a node's pull",
    ("nginx", True, 100): "12.5-14.9 s against 10 s: the blob's sync and the create's sync of the unpacked image "
                          "add 5.2 s to a node's pull",
    ("nginx", True, 500): "12.5-14.9 s against 25 s: Dragonfly slows as the swarm grows, dsim's swarm is flat",
    ("tensorflow", True, 50): "50-60 s against 40 s: the unpack at dsim's ratio and gunzip rate alone takes 43 s",
    ("tensorflow", True, 100): "50-60 s against 40 s: the unpack at dsim's ratio and gunzip rate alone takes 43 s",
}


def _rows() -> list[object]:
    rows: list[object] = []
    for (image, dragonfly), measured in MEASURED.items():
        for pods in measured:
            reason = MISSES.get((image, dragonfly, pods))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            name = f"{image}-{'dragonfly' if dragonfly else 'oci'}-{pods}"
            rows.append(pytest.param(image, dragonfly, pods, id=name, marks=marks))
    return rows


@pytest.mark.parametrize(("image", "dragonfly", "pods"), _rows())
def test_pods_started_within_tolerance_for_every_split(image: str, dragonfly: bool, pods: int) -> None:
    measured = MEASURED[image, dragonfly][pods]
    for split in SPLITS:
        assert abs(last_start(image, pods, dragonfly, split) - measured) <= TOLERANCE * measured, split


def test_without_peers_the_registry_egress_sets_the_pace() -> None:
    """Worked by hand: every byte of every pod's image crosses the registry's 10 Gbit/s, so the last blob is in
    no sooner than N x S / 1.25 GB/s; with one layer the last start follows by the blob's sync (the bytes of
    its last 30 s still dirty, at 400 MiB/s), that layer's unpack (S x 2.7 at
    200 MiB/s), the create's sync of the unpacked files still dirty (at most S x 2.7, and no more than the
    16 GiB host's setpoint, 17.5% of it, at 400 MiB/s) and the start; the time grows in proportion to the
    pods."""
    write = 400 * 2**20
    for image in IMAGE:
        for pods in (50, 500):
            egress = pods * IMAGE[image] / REGISTRY
            blob_sync = IMAGE[image] * min(1.0, 30.0 / egress) / write
            unpack = IMAGE[image] * 2.7 / (200 * 2**20)
            create_sync = min(IMAGE[image] * 2.7, 0.175 * 16 * GIB) / write
            got = last_start(image, pods, False, "one")
            assert egress + blob_sync + unpack < got < egress + blob_sync + unpack + create_sync + 1.5


def test_with_peers_the_time_is_one_nodes_pull_whatever_the_swarm() -> None:
    """Each node fetches from its peers, at most at its 6 Gbit/s NIC, so 500 pods start as soon as 50 (dsim's
    fluid swarm), and the registry sends a few copies of the image in all, not one per pod (the blog's traffic
    chart: 0.54 GiB of nginx for 50 pods, 0.82 GiB for 500; 3.13 and 4.88 GiB of TensorFlow)."""
    for image in IMAGE:
        for pods in (50, 500):
            assert IMAGE[image] <= run(image, pods, True, "one")[1] < 5 * IMAGE[image]
        assert last_start(image, 500, True, "one") == pytest.approx(last_start(image, 50, True, "one"), rel=0.01)
        # no faster than one node's fetch at its NIC and its unpack, far sooner than 50 pods' bytes cross the
        # registry's egress
        unpack = IMAGE[image] * 2.7 / (200 * 2**20)
        assert unpack + IMAGE[image] / (6e9 / 8) < last_start(image, 50, True, "one") < 50 * IMAGE[image] / REGISTRY
