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

Tolerance 25% (one figure per case). What dsim predicts, for the three splits:
- OCI v1 is the registry's egress shared by every node: N pods x S / 1.25 GB/s before the last layer is in,
  then that layer's unpack. nginx: 50 pods 31.8 / 27.3 / 28.8 s (-9% to -22%), 100 pods 55.3 / 50.8 /
  52.4 s (-15% to -22%): within. NOT reproduced: 200 pods, 97.9-102.4 s against 135 s (-24% to -28%),
  500 pods 239-244 s against 1,020 s (-76% to -77%), and TensorFlow at every count (50 pods 153-179 s against 260 s,
  -31% to -41%; 100-500 pods -77% to -87%). The traffic over the time gives what the registry delivered on
  average: nginx 0.84, 0.90 and 0.87 GB/s for 50, 100 and 200 pods (about 7 Gbit/s of its 10), then
  0.29 GB/s for 500; TensorFlow 0.65 GB/s for 50 pods, then 0.24 down to 0.16 GB/s. dsim's egress delivers
  its nominal 10 Gbit/s however many pull; the blog names what limits the real one: the bandwidth and the
  request rate (QPS) of the object storage (TOS) behind the registry.
- Dragonfly: every node fetches from its peers, at most at its NIC's 6 Gbit/s (TensorFlow's 3.4 GB in 8 s, as
  peers relay what they are still receiving), so the time is one node's pull, flat in the pod count: nginx
  9.7 / 9.1 / 8.5 s against 10 s for 50 and 100 pods (-3% to -15%); TensorFlow 52.1 / 48.9 / 45.2 s against
  50 s and 55 s for 200 and 500 pods (+4% to -18%): within. NOT reproduced: nginx
  200 and 500 pods (15 s and 25 s: -35% to -66%), where Dragonfly's time grows with the swarm (its scheduler
  and piece exchange; dsim's fluid swarm has neither, as the Kraken row's tail), and TensorFlow 50 and 100
  pods (40 s: +13% to +30%), where the unpack of 9.1 GB at dsim's gunzip rate alone takes 43 s: the image
  compresses less than dsim's 2.7 or unpacked faster than one core of Go's gzip (containerd uses unpigz where
  installed).
Pod scheduling and sandbox creation, which the measured times include, are not modelled (about a second).
"""

from __future__ import annotations

import functools

import pytest

from tests.helpers import run_text

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
      node: {{count: {pods}, nic: 6Gbps}}
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
    ("nginx", False, 200): "98-102 s against 135 s: the registry delivered about 7 Gbit/s on average, dsim 10",
    ("nginx", False, 500): "about 240 s against 1,020 s: the registry's storage (TOS) collapses at 500 pods",
    ("tensorflow", False, 50): "153-179 s against 260 s: the registry delivered 5.2 Gbit/s on average",
    ("tensorflow", False, 100): "about 300 s against 1,380 s: the registry's storage collapses",
    ("tensorflow", False, 200): "about 570 s against 4,245 s: the registry's storage collapses",
    ("tensorflow", False, 500): "about 1,380 s against 10,800 s: the registry's storage collapses",
    ("nginx", True, 200): "8.5-9.7 s against 15 s: Dragonfly slows as the swarm grows, dsim's swarm is flat",
    ("nginx", True, 500): "8.5-9.7 s against 25 s: Dragonfly slows as the swarm grows, dsim's swarm is flat",
    ("tensorflow", True, 50): "45-52 s against 40 s: the unpack at dsim's ratio and gunzip rate alone takes 43 s",
    ("tensorflow", True, 100): "45-52 s against 40 s: the unpack at dsim's ratio and gunzip rate alone takes 43 s",
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
    no sooner than N x S / 1.25 GB/s; with one layer the last start follows by that layer's unpack (S x 2.7 at
    200 MiB/s) and the start, and the time grows in proportion to the pods."""
    for image in IMAGE:
        for pods in (50, 500):
            egress = pods * IMAGE[image] / REGISTRY
            unpack = IMAGE[image] * 2.7 / (200 * 2**20)
            got = last_start(image, pods, False, "one")
            assert egress + unpack < got < egress + unpack + 1.5


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
