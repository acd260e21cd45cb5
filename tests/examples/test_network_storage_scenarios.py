"""scenarios/network-modes.yaml and writable-layer.yaml tell their stories: the figures of their comment blocks.

Default costs (docs/containers.md, docs/networks-storage.md): API call 2 ms on 8 workers, create 60 ms, mount
20 ms, netns 10 ms under the rtnl lock (bridge), a published port's 7 iptables processes of 1.5 ms (its 2
rules, each 10 us more per rule already in the table) and 2 docker-proxy of 2.25 ms (a tcp port: no conntrack
flush), one container's ports at a time, runc create 454 ms, exec 20 ms.
"""

from __future__ import annotations

from functools import cache

import pytest

from dsim.api import load_scenario, simulate
from dsim.result import SimResult
from tests.helpers import ROOT


@cache
def run() -> SimResult:
    return simulate(load_scenario(ROOT / "scenarios" / "network-modes.yaml"))


def ends(workload: str) -> list[float]:
    return sorted(job.end_s for job in run().jobs if job.workload == workload)


def test_on_the_host_network_the_storm_is_the_creates_spread_plus_one_start() -> None:
    """Creates end at 62-76 ms, start calls 2 ms later, then 20 + 451 + 20 ms (mount, runc create less the bridge
    endpoint's rule it counts, 3 ms, runc start): 0.555 s to 0.569 s; no netns at all."""
    host = ends("host-network")
    assert (host[0], host[-1]) == (pytest.approx(0.062 + 0.002 + 0.491), pytest.approx(0.076 + 0.002 + 0.491))
    assert not [s for s in run().spans_of("netns") if s.host == "host"]


def test_a_bare_bridge_queues_64_namespaces_on_the_rtnl_lock() -> None:
    """The lock is busy from 84 ms without a gap: the last namespace ends at 84 + 640 ms, up 474 ms later."""
    assert ends("bare-bridge")[-1] == pytest.approx(0.084 + 0.640 + 0.474)


def test_published_ports_make_the_ports_lock_the_bottleneck() -> None:
    """Container k's tcp port (k = 0..63, one at a time from 94 ms, each longer than a namespace's 10 ms):
    7 x 1.5 + 2 x 2.25 ms + 10 us x (2 (20 + 2 k) + 1) = 15.41 + 0.04 k ms, so 1.067 s of work; the last container
    up 474 ms after its port (runc create with the endpoint's rule inside, runc start): 1.635 s, about 2.9x the host
    network's 0.569 s."""
    rules = [s for s in run().spans_of("iptables") if s.host == "bridge-ports"]
    assert len(rules) == 64
    work = sum(7 * 0.0015 + 2 * 0.00225 + 10e-6 * (2 * (20 + 2 * k) + 1) for k in range(64))
    assert max(s.end for s in rules) == pytest.approx(0.094 + work)
    assert ends("with-ports")[-1] == pytest.approx(0.094 + work + 0.474)
    assert ends("with-ports")[-1] / ends("host-network")[-1] == pytest.approx(2.873, abs=0.01)
    assert max(s.attrs["table"] for s in rules) == 20 + 128


# ---------------------------------------------------------------- writable-layer.yaml

@cache
def layer_run() -> SimResult:
    return simulate(load_scenario(ROOT / "scenarios" / "writable-layer.yaml"))


RATE = 400 * 2**20  # the default write_rate, bytes per second
#: a warm run of postgres:16 (14 layers): 568 ms, and its overlay mount 7 layers beyond the 7 that runtime.mount
#: covers at 3.86 us each (docs/containers.md: layer depth): 0.568 + 7 x 3.86e-6 = 0.56802702 s
START = 0.568 + 7 * 3.86e-6


def test_copy_up_of_a_big_file_in_ten_containers_shares_the_disk() -> None:
    """The ten copy-ups go into the page cache at once (10.1 GB, under a 64 GiB host's 11.2 GiB setpoint). The
    7th passes the 6.4 GiB background threshold, so writeback starts then and, from the first exit on (0.568 +
    1 s: its rootfs unmount syncs), never pauses until all 10 x 1.01 GB are on the disk; the other exits wait
    for the same bytes, so every job ends then."""
    result = layer_run()
    writes = [s for s in result.spans_of("write") if s.host == "in-image"]
    assert {(s.attrs["added"], s.attrs["changed"]) for s in writes} == {(10e6, 1e9)}  # docker diff's view
    # its paths (native diff): the copied-up file alone, the new WAL segment with its directory
    assert {tuple(s.attrs["changes"]) for s in writes} == {(
        "C /var/lib/postgresql/data/base/5/16384", "C /var/lib/postgresql/data/pg_wal",
        "A /var/lib/postgresql/data/pg_wal/000000010000000000000001")}
    assert {(s.attrs["files_added"], s.attrs["files_changed"]) for s in writes} == {(1, 1)}
    assert [s.duration for s in writes] == [0.0] * 10
    syncs = [s for s in result.spans_of("syncfs") if s.host == "in-image"]
    assert {s.attrs["at"] for s in syncs} == {"exit"} and min(s.start for s in syncs) == pytest.approx(START + 1.0)
    jobs = [job.end_s for job in result.jobs if job.workload == "copy-up"]
    assert min(jobs) == pytest.approx(max(jobs))
    seventh = sorted(s.start for s in writes)[6]
    assert max(jobs) == pytest.approx(seventh + 10 * 1.01e9 / RATE)


def test_a_volume_skips_the_copy_up() -> None:
    result = layer_run()
    assert not [s for s in result.spans_of("copy_up") if s.host == "in-volume"]
    jobs = [job.end_s for job in result.jobs if job.workload == "volume"]
    assert max(jobs) == pytest.approx(START + 10 * 10e6 / RATE + 1.0)
