"""explain prints what the docker CLI prints: the ID after `run -d`, `docker ps` as a table, Hub paths
under library/, and no internal labels."""

from __future__ import annotations

import hashlib

from dsim.api import load_scenario, simulate
from dsim.reports.context import ScenarioInfo
from dsim.reports.explain import hub_path, narrate, steps_text
from tests.helpers import ROOT


def _story() -> list[str]:
    resolved = load_scenario(ROOT / "scenarios" / "hello-nginx.yaml")
    result = simulate(resolved)
    return [line.text for line in narrate(result, 1, ScenarioInfo.from_resolved(resolved))]


def test_run_d_prints_the_container_id_and_ps_prints_a_table() -> None:
    lines = _story()
    full_id = hashlib.sha256(b"laptop/web").hexdigest()
    assert full_id in lines  # `docker run -d ...` prints the 64-hex ID, once started
    header = next(i for i, line in enumerate(lines) if line.startswith("CONTAINER ID"))
    assert lines[header].split() == ["CONTAINER", "ID", "IMAGE", "STATUS", "PORTS", "NAMES"]
    assert lines[header + 1].split() == [full_id[:12], "nginx:latest", "Up", "0.0.0.0:8080->80/tcp", "web"]
    assert any(line.split()[2:] == ["Exited", "(0)", "web"] for line in lines)  # `docker ps -a` after the stop
    assert not any("(new kind)" in line or "(new)" in line for line in lines)


def test_hub_requests_name_official_images_under_library() -> None:
    assert hub_path("GET /v2/nginx/manifests/latest", "hub") == "GET /v2/library/nginx/manifests/latest"
    assert hub_path("GET /v2/team/app/manifests/1", "hub") == "GET /v2/team/app/manifests/1"
    assert hub_path("GET /v2/nginx/manifests/latest", "registry") == "GET /v2/nginx/manifests/latest"
    assert any("/v2/library/nginx/manifests/latest" in line for line in _story())


def test_the_header_shows_ps_all_as_ps_a() -> None:
    info = ScenarioInfo.from_resolved(load_scenario(ROOT / "scenarios" / "hello-nginx.yaml"))
    assert "docker ps -a" in steps_text(info, "hello")
