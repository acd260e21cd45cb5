"""Properties of the container runtime over generated scenarios (hypothesis).

* No container starts before its image is fully unpacked on its host: every layer of its image is either
  preloaded there or has an unpack span on that host ending no later than the start's first step. (The
  generated images are ordinary ones: a lazily pulled image, eStargz style, is usable before it is whole
  by design, pull.py.)
* Container processes never outlive nor precede their start: every process span begins where an exec ends.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.api import load_scenario_text, simulate

IMAGES = ("base:1", "app:1", "tool:1")


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    layers = {ref: draw(st.lists(st.integers(1, 40), min_size=1, max_size=4)) for ref in IMAGES}
    hosts = draw(st.integers(1, 3))
    preloaded = draw(st.sampled_from(["[]", "[base:1]", "[tool:1]"]))
    workloads = []
    for i in range(draw(st.integers(1, 5))):
        image = draw(st.sampled_from(IMAGES))
        times = draw(st.lists(st.floats(0, 3), min_size=1, max_size=4))
        pull = draw(st.booleans())
        detach = draw(st.booleans())
        run = f"{{run: {{image: '{image}', duration: {draw(st.floats(0, 2)):.3f}s, detach: {str(detach).lower()}}}}}"
        steps = ([f"{{pull: '{image}'}}"] if pull else []) + [run]
        workloads.append(f"  w{i}: {{arrival: {{times: [{', '.join(f'{t:.3f}s' for t in times)}]}}, "
                         f"placement: random, steps: [{', '.join(steps)}]}}")
    images = "\n".join(
        f"  {ref}: {{registry: reg, {'from: base:1, ' if ref == 'app:1' else ''}"
        f"layers: [{', '.join(f'{mb}MB' for mb in layers[ref])}]}}" for ref in IMAGES)
    return f"""
name: prop
seed: {draw(st.integers(0, 1000))}
registries: {{reg: {{bandwidth: {draw(st.sampled_from(['100MB/s', '1Gbps']))}, latency: 5ms}}}}
images:
{images}
hosts:
  h: {{count: {hosts}, nic: 1Gbps, preloaded: {preloaded}, storage: {{write_rate: 200MB/s}},
      daemon: {{max_concurrent_downloads: {draw(st.integers(1, 3))}}}}}
workloads:
{chr(10).join(workloads)}
"""


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_no_container_starts_before_its_image_is_unpacked(text: str) -> None:
    resolved = load_scenario_text(text)
    result = simulate(resolved)
    preloaded = {ref for host in resolved.hosts for ref in host.spec.preloaded}
    preloaded_chains = {layer.chain_id for ref in preloaded for layer in resolved.images[ref].layers}
    unpacked: dict[tuple[str, str], float] = {}
    for span in result.spans_of("unpack"):
        unpacked[(span.host, span.subject)] = min(span.end, unpacked.get((span.host, span.subject), span.end))
    starts = {(span.host, span.subject): span.start for span in result.spans_of("mount")}
    execs = {(span.host, span.subject): span.end for span in result.spans_of("exec")}
    processes = result.spans_of("process")
    assert len(processes) == len(starts)
    for process in processes:
        key = (process.host, process.subject)
        began = starts[key]
        assert process.start == execs[key]
        for layer in resolved.images[process.attrs["image"]].layers:
            if layer.chain_id in preloaded_chains:
                continue
            assert key[0] != "" and unpacked[(process.host, layer.digest)] <= began
