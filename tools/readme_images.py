"""Draw the README catalogue's pictures: for each scenario, the chart that answers its question, into
docs/img/<scenario>.png (palette-quantised so each stays small).

    python tools/readme_images.py                  # every picture
    python tools/readme_images.py oom port-conflict  # only these

Each picture is the chart dsim writes into charts/ for that scenario (same function, same data); the
sweep's is the chart ``dsim sweep`` writes for its goal metric against the runner count.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: scenario -> (chart, why this one answers the scenario's question)
PICTURES: dict[str, tuple[str, str]] = {
    "ci-burst": ("timeline", "jobs waiting for a slot and pulling, runner by runner"),
    "warm-cache": ("time_share", "what is left of start-up once the base image is on every runner"),
    "registry-mirror": ("latency_cdf", "pull times with and without the mirror, cold and warm"),
    "rate-limit": ("timeline", "which nodes' pulls were refused with 429, and when"),
    "lazy-pull": ("latency_cdf", "start times of lazy against full pulls"),
    "p2p-fleet": ("registry_egress", "the origin's egress against the peers'"),
    "fleet-rollout": ("timeline", "50 nodes pulling 1 GB in one layer, then in four"),
    "disk-pressure": ("timeline", "pulls over time and the ones that failed for space"),
    "dev-loop": ("build_waterfall", "build against rebuild, cached steps marked, for both Dockerfile orders"),
    "multi-stage": ("build_waterfall", "BuildKit's parallel stages against the classic builder's sequence"),
    "cache-mounts": ("build_waterfall", "builds with and without the cache mount"),
    "ci-build-push": ("build_waterfall", "the cold build against a later one that found the registry cache"),
    "shared-base": ("pull_waterfall", "the layers that already exist, and what is left to pull"),
    "hello-nginx": ("sequence", "client, daemon, registry and kernel during docker run"),
    "port-conflict": ("ports", "who holds host port 8080 over time, and the bind that failed"),
    "network-modes": ("latency_cdf", "start times per network mode"),
    "writable-layer": ("latency_cdf", "the databases' write times, writable layer against volume"),
    "start-storm": ("timeline", "200 starts queueing on the daemon's and the kernel's locks"),
    "vm-storm": ("latency_cdf", "32 docker run --rm at once on a 2-vCPU VM, on host and on bridge"),
    "noisy-neighbours": ("latency_cdf", "the API's request times with and without a CPU quota"),
    "oom": ("container_states", "each container's runs and its OOM kills"),
    "restart-loop": ("container_states", "the crash loop paced by the restart backoff"),
    "multi-tier": ("calls", "each tier's call latency, every tier on one host against the db on another"),
    "compose-three-tier": ("compose_timeline",
                           "the services coming up in dependency and health order, cold against warm"),
    "compose-fleet": ("compose_timeline", "the same project coming up on 20 hosts against one registry"),
    "compose-build": ("compose_timeline", "the first up: the service's image built before any container starts"),
    "compose-redeploy": ("compose_timeline",
                         "the redeploy: the new container created, the old one stopped, graceful against PID 1"),
    "vm-vs-container": ("density", "sandboxes running on one host: how many fit"),
    "image-store": ("timeline", "the golden-image job under each store: containerd's slower commit, its faster push"),
    "test-shards": ("timeline", "ten shards each way: a container's start path against dockerd's exec path"),
    "sweeps/ci-capacity.sweep": ("sweep", "p95 job time against runners, for each registry bandwidth, with the goal"),
}
IMAGES = ROOT / "docs" / "img"
#: Each picture stays under this size (bytes): the README is read on the web.
MAX_BYTES = 150_000


def image_path(scenario: str) -> Path:
    return IMAGES / f"{scenario.split('/')[-1].removesuffix('.sweep')}.png"


def _shrink(path: Path) -> None:
    """Palette-quantise the PNG (charts use a few flat colours): a third of the size, same look."""
    from PIL import Image

    with Image.open(path) as image:
        quantised = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    quantised.save(path, optimize=True)


def draw(scenario: str) -> Path:
    """Simulate the scenario and draw its picture into docs/img."""
    target = image_path(scenario)
    target.parent.mkdir(parents=True, exist_ok=True)
    chart, _ = PICTURES[scenario]
    with tempfile.TemporaryDirectory() as folder:
        if chart == "sweep":
            out = Path(folder) / "sweep"
            subprocess.run([sys.executable, "-m", "dsim", "sweep", str(ROOT / "scenarios" / f"{scenario}.yaml"),
                            "--out", str(out), "--quiet", "--workers", "1"], check=True, cwd=ROOT)
            target.write_bytes((out / "charts" / "phases.job.p95_s-vs-hosts.runner.count.png").read_bytes())
        else:
            from dsim.api import load_scenario, simulate
            from dsim.reports.charts import CHARTS
            from dsim.reports.context import ScenarioInfo
            from dsim.reports.derive import SpanIndex

            source = ROOT / "scenarios" / f"{scenario}.yaml"
            resolved = load_scenario(source)
            result = simulate(resolved)
            function = dict(CHARTS)[chart]
            made = function(result, target, ScenarioInfo.from_resolved(resolved, source), SpanIndex(result))
            if made is None:
                raise SystemExit(f"{scenario}: the {chart} chart has nothing to show")
    _shrink(target)
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{target}: {size:,} bytes, over {MAX_BYTES:,}")
    return target


def main(names: list[str]) -> None:
    for scenario in names or list(PICTURES):
        print(f"{scenario}: {draw(scenario).relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
