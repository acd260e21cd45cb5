"""DADI's cold starts (Li et al., "DADI: Block-Level Image Service for Agile and Elastic Application Deployment",
USENIX ATC'20, https://www.usenix.org/conference/atc20/presentation/li-huiba, paper
https://www.usenix.org/system/files/atc20-li-huiba.pdf). DADI pulls only an image's metadata, then reads the
blocks a container touches on demand; a DADI-Root in each data center fetches from the registry and serves
its hosts' agents as a tree, one per layer (a miss goes up to the parent; every agent keeps what it got).

Measured:
- the abstract: DADI "can cold start 10,000 containers on 1,000 hosts within 4 seconds" (section 5.3: 1,000
  VMs, 10 containers each, cold against warm, Figure 20). "Within 4 seconds" is a bound and is checked as one:
  the 10,000th container has started 4 s after the deployment began. Cold: no image data on the hosts (the
  paper clears the page caches and DADI's persistent cache before each test); the root holds the image
  (the most favourable reading for dsim: no registry behind it);
- section 5.2, Figure 17 (batch cold start of WordPress from the P2P root): about 0.7 s whether 1 or 32 hosts
  start at once (the text gives no number: read off the figure, about +-0.1 s; pseudo-Slacker grows from 1.5
  to 2.3 s). What the paper's startup latency ends at (the container started, or the application ready) is
  not stated in what was read: dsim's ends when the container has started.

Parameters (section 5.1 unless said; nothing calibrated):
- hosts: the paper's public-cloud VMs, 4 vCPUs, 8 GiB, vNIC 1.5 Gbps sustained (the 5 Gbps burst is not used:
  a burst lasts only while credits do); local NVMe: dsim's default write rate;
  dsim's runtime costs (a warm `docker run` 568 ms, Khan);
- the image: section 5.2's WordPress, 21 layers, 274 MiB as DADI's LZ4-compressed blobs (501 MiB unpacked,
  165 MiB as .tgz); the split between layers is not given: 21 equal layers. The paper names no other image's
  size, so the 10,000-container row uses it too (an assumption);
  `compression: none`: LZ4 inflates at GB/s per core and dsim has no LZ4 (6.4% of 274 MiB would cost ms);
- what a container reads at start: dsim's default prefetch, 6.4% of each layer (Slacker's share of the image
  data containers read); the paper gives no figure for WordPress (its metadata is 9 KiB);
- the DADI-Root as dsim's registry in the same data center, with dsim's defaults: 10 Gbps egress, 30 ms a
  request, no auth, no round trip; `p2p: true`, DADI's peer-to-peer (the agents' tree): a host reads each
  layer's ranges from peers that read them (its prefetch, then the rest), with dsim's swarm defaults (5
  sources, 5 uploads a peer: Kraken's, docs/distribution.md). dsim's swarm is not DADI's tree (peers are
  picked at random among those with an upload free), but both relay what a host has received, so the root
  sends about one copy of the working set.

Predicted: the 10,000th container starts at 1.2 s, within the 4 s (``test_ten_thousand_...``); Figure 17's
batch, 0.79 s for 1 and for 32 hosts (+13%, within 25%). What the peers buy (what-ifs, not predictions):
without them the root sends every host its working set, 1,000 x 18.4 MB = 18.4 GB through 10 Gbps, 14.7 s
even with one container per host (``test_without_peers_the_roots_egress_sets_the_pace``), and 32 hosts take
1.17 s. The 10 `docker run`s of a host, started together, share one mount of each layer (as stargz-snapshotter
and containerd's unpacker do). The warm start storm alone takes 1.0 s. The runs are deterministic: one seed.

Tolerance: the bound as stated (4 s); Figure 17's 0.7 s within 25% (a figure read by eye, a single series).
The 10,000 cold starts take 7-15 s of wall time.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest

from dsim.records import SpanKind
from tests.helpers import run_text

MIB = 2**20
LAYERS = 21
BLOBS = 274 * MIB  # DADI's LZ4 blobs of WordPress (section 5.2)
UNPACKED = 501 * MIB
PREFETCH = 0.064  # dsim's default share of each layer read before a container starts
ROOT_EGRESS = 1.25e9  # dsim's default registry bandwidth, 10 Gbps


@functools.cache
def start_times(hosts: int, per_host: int, *, warm: bool = False, p2p: bool = False) -> tuple[float, ...]:
    """When each container of ``per_host`` `docker run`s on each of ``hosts`` VMs, all at time 0, has started."""
    layer = f"{{size: {BLOBS / LAYERS:.0f}, uncompressed: {UNPACKED / LAYERS:.0f}}}"
    result = run_text(f"""
    name: dadi
    until: 400s
    registries:
      root: {{bandwidth: 10Gbps, p2p: {str(p2p).lower()}}}
    images:
      wordpress: {{registry: root, lazy: true, compression: none, layers: [{", ".join([layer] * LAYERS)}]}}
    hosts:
      vm: {{count: {hosts}, cpus: 4, memory: 8GiB, nic: 1.5Gbps, preloaded: {"[wordpress]" if warm else "[]"}}}
    workloads:
      deploy: {{arrival: {{burst: {hosts * per_host}}}, steps: [{{run: {{image: wordpress, detach: true}}}}]}}
    """)
    jobs = result.jobs
    assert len(jobs) == hosts * per_host
    assert set(Counter(job.host for job in jobs).values()) == {per_host}
    for job in jobs:
        assert job.status == "completed", job.error
    return tuple(job.arrival_s + job.phases[SpanKind.PULL] + job.phases[SpanKind.CREATE] + job.phases[SpanKind.START]
                 for job in jobs)


def test_ten_thousand_cold_starts_on_a_thousand_hosts_within_4s() -> None:
    """The abstract's bound, with DADI's peers: 1.2 s."""
    assert max(start_times(1000, 10, p2p=True)) <= 4.0


def test_without_peers_the_roots_egress_sets_the_pace() -> None:
    """What-if: one container per host and no peers: the root sends 1,000 working sets through its 10 Gbps
    (14.7 s); the resolve's three requests, the range GETs' and the start (about 0.7 s in all) come on top."""
    through_root = 1000 * PREFETCH * BLOBS / ROOT_EGRESS
    last = max(start_times(1000, 1))
    assert through_root < last <= through_root + 1.0


def test_the_warm_start_storm_alone_is_within_the_bound() -> None:
    """The image on every host already: 10 starts on 4 vCPUs take about 1 s, so the miss is all image fetch."""
    assert max(start_times(1000, 10, warm=True)) <= 4.0


@pytest.mark.parametrize("hosts", [1, 32])
def test_batch_cold_start_from_the_root(hosts: int) -> None:
    """Figure 17: about 0.7 s for 1 to 32 hosts. dsim, with peers: 0.79 s for either (+13%); without them 32
    hosts would take 1.17 s, the root sending every host's working set."""
    last = max(start_times(hosts, 1, p2p=True))
    assert abs(last - 0.7) <= 0.25 * 0.7
