"""Uber Kraken's benchmark (README): a 3 GB image of 2 layers downloaded by 2,600 hosts at once (5,200 blob
downloads), 300 MB/s speed limit on every agent, 5 trackers and 5 origins: p50 10 s ("at speed limit"),
p99 18 s, p99.9 22 s.

Parameters (scenarios/p2p-fleet.yaml, not tuned): agents' NICs 300 MB/s; the origins one registry of
5 x 8 Gbit/s (the origin backend bandwidth in Kraken's configuration example); dsim's swarm defaults:
each blob fetched in 5 stripes from 5 peers, 5 uploads per peer per blob (Kraken allows 10 connections
per torrent). What is compared is each host's time to have both blobs (Kraken measures blob downloads;
unpacking comes after).

Kraken's agent keeps the blobs it downloads in its own store and does not sync them (uber/kraken
lib/store/disk/file.go: "TODO - consider whether we should do f.Sync() before closing the file"); dsim's
download span ends with containerd's content store syncing the blob as it commits it (docs/networks-storage.md:
The page cache), which is not in what Kraken times. The fleet's download spans therefore end 4.1 s after the
blobs are in: the blobs go into each host's page cache as they come (3 GB in 10 s), the dirty bytes pass the
16 GiB host's background threshold (1.6 GiB) at 5.7 s and the disk, at the default 400 MiB/s faster than the
300 MB/s coming in, keeps them there, so 1.6 GiB are left to sync at the commits: p50 14.1 s (17.2 s when
the whole 3 GB was synced). The comparison is made on the same fleet with the agents' writes free
(`write_rate: inf`), so the download spans are the swarm's transfers alone.

Tolerance: p50 within 10% of 10 s. The p99 is NOT reproduced: dsim's fluid swarm shares every NIC
exactly by max-min fairness and relays stripes with no piece-level delay, so with identical hosts all
finish together (p99 = p50 = 10.0 s). Kraken's tail comes from what the fluid model leaves out: piece
scheduling and announce intervals (a peer learns of new peers every few seconds), hosts that start late
or are busy, and connection churn. The test states the gap: dsim's p99 is below Kraken's 18 s. The
swarm is symmetric here, so the random peer choices do not change the result: one seed is the average.
"""

from __future__ import annotations

import functools

from dsim.api import load_scenario_text, simulate
from dsim.result import SimResult, percentile
from tests.helpers import ROOT
from tests.validation.fleet import download_times, fleet_result

AGENT = "    daemon: {api_service_time: 0s}\n"


@functools.cache
def agents_result() -> SimResult:
    """scenarios/p2p-fleet.yaml with the agents' writes free: Kraken's agents do not sync their blobs."""
    text = (ROOT / "scenarios" / "p2p-fleet.yaml").read_text()
    assert text.count(AGENT) == 1
    return simulate(load_scenario_text(text.replace(AGENT, AGENT + "    storage: {write_rate: inf}\n")))


def test_p50_at_the_speed_limit_and_the_tail_that_the_fluid_model_lacks() -> None:
    times = sorted(end - start for start, end in download_times(agents_result()).values())
    assert len(times) == 2600
    assert abs(percentile(times, 50) - 10.0) <= 1.0
    assert percentile(times, 99) < 18.0  # Kraken's tail is not reproduced (see the module docstring)


def test_containerd_would_add_the_blobs_sync() -> None:
    """Worked by hand: in the scenario as written each download span ends with the blobs' sync, of what the
    background writeback has left dirty: the 1.6 GiB threshold at 400 MiB/s, 4.1 s after the swarm's 10 s."""
    times = sorted(end - start for start, end in download_times(fleet_result()).values())
    assert abs(percentile(times, 50) - (10.0 + 0.1 * 16 * 2**30 / (400 * 2**20))) <= 0.2
