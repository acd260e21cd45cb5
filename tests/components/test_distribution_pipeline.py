"""The pull pipeline against a hand-worked schedule: daemon-wide download slots shared by two pulls on one
daemon, competing on the registry's link with a third host (issue 3's example), and Docker's progress words.

Registry link 100 MB/s, zero latency everywhere (requests take no time), NICs and unpacking free, three
download slots per daemon. Host a runs two pulls at once, x:1 (two 100 MB layers) then y:1 (two 100 MB
layers); host b pulls z:1 (one 200 MB layer).

* t = 0: a's slots take x0, x1, y0 (FIFO, in layer order); y1 waits. b starts z0. Four flows share the
  registry link by max-min fairness: 25 MB/s each.
* t = 4 s: x0, x1, y0 have their 100 MB; x:1 is complete. z0 has 100 MB left. y1 takes the freed slot:
  two flows, 50 MB/s each.
* t = 6 s: y1 and z0 end together. y:1 and z:1 are complete.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

SCENARIO = """
name: slots
registries:
  reg: {bandwidth: 100MB/s, latency: 0s}
images:
  x:1: {registry: reg, layers: [100MB, 100MB]}
  y:1: {registry: reg, layers: [100MB, 100MB]}
  z:1: {registry: reg, layers: [200MB]}
hosts:
  a: &host
    nic: inf
    daemon: {api_service_time: 0s, max_concurrent_downloads: 3}
    storage: {write_rate: inf, decompress_rate: {gzip: inf}, hash_rate: inf,
              receive_rate: inf, apply_rate: inf, apply_per_file: 0s}
  b: *host
workloads:
  wx: {arrival: {burst: 1}, placement: a, steps: [{pull: "x:1"}]}
  wy: {arrival: {burst: 1}, placement: a, steps: [{pull: "y:1"}]}
  wz: {arrival: {burst: 1}, placement: b, steps: [{pull: "z:1"}]}
"""


def test_two_pulls_share_three_slots_against_a_third_host() -> None:
    result = run_text(SCENARIO)
    pulls = {span.subject: span.duration for span in result.spans_of("pull")}
    assert pulls == {"x:1": pytest.approx(4.0), "y:1": pytest.approx(6.0), "z:1": pytest.approx(6.0)}
    waited = [s for s in result.spans_of("download") if s.attrs["slot_wait"] > 0]
    assert [(s.host, round(s.start, 6), round(s.attrs["slot_wait"], 6)) for s in waited] == [("a", 4.0, 4.0)]


def test_progress_words_follow_dockers_order() -> None:
    """y's second layer: listed at 0, waits for a slot, downloads 4..6 s, then extracts and completes."""
    result = run_text(SCENARIO)
    y1 = next(s for s in result.spans_of("pull_layer") if s.attrs["image"] == "y:1" and s.end > 5)
    assert y1.attrs["progress"] == [[0.0, "Pulling fs layer"], [0.0, "Waiting"], [4.0, "Downloading"],
                                    [6.0, "Verifying Checksum"], [6.0, "Download complete"], [6.0, "Extracting"],
                                    [6.0, "Pull complete"]]
