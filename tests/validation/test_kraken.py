"""Uber Kraken's benchmark (README): a 3 GB image of 2 layers downloaded by 2,600 hosts at once (5,200 blob
downloads), 300 MB/s speed limit on every agent, 5 trackers and 5 origins: p50 10 s ("at speed limit"),
p99 18 s, p99.9 22 s.

Parameters (scenarios/p2p-fleet.yaml, not tuned): agents' NICs 300 MB/s; the origins one registry of
5 x 8 Gbit/s (the origin backend bandwidth in Kraken's configuration example); dsim's swarm defaults:
each blob fetched in 5 stripes from 5 peers, 5 uploads per peer per blob (Kraken allows 10 connections
per torrent). What is compared is each host's time to have both blobs (Kraken measures blob downloads;
unpacking comes after).

Tolerance: p50 within 10% of 10 s. The p99 is NOT reproduced: dsim's fluid swarm shares every NIC
exactly by max-min fairness and relays stripes with no piece-level delay, so with identical hosts all
finish together (p99 = p50 = 10.0 s). Kraken's tail comes from what the fluid model leaves out: piece
scheduling and announce intervals (a peer learns of new peers every few seconds), hosts that start late
or are busy, and connection churn. The test states the gap: dsim's p99 is below Kraken's 18 s. The
swarm is symmetric here, so the random peer choices do not change the result: one seed is the average.
"""

from __future__ import annotations

from dsim.result import percentile
from tests.validation.fleet import download_times, fleet_result


def test_p50_at_the_speed_limit_and_the_tail_that_the_fluid_model_lacks() -> None:
    times = sorted(end - start for start, end in download_times(fleet_result()).values())
    assert len(times) == 2600
    assert abs(percentile(times, 50) - 10.0) <= 1.0
    assert percentile(times, 99) < 18.0  # Kraken's tail is not reproduced (see the module docstring)
