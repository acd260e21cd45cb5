"""Catalog entries checked against numbers read off their docker-library/repo-info pages (not dsim's output).

postgres:16-alpine: repos/postgres/remote/16-alpine.md@14ad5cc17dd0e9a01079feefc7a59c24536f5291 and
repos/postgres/local/16-alpine.md@f0183a319be31eb19e713b1b77f23db5aba138fb.
redis:7-alpine: repos/redis/remote/7-alpine.md@1742085aa3304e996a45e00271d6b8308029b6e3 and
repos/redis/local/7.4.11-alpine.md@348b32e593167028da9f656dd588e331c409ed59.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TypedDict

import pytest

from dsim.scenarios.catalog import catalog
from dsim.serve.image_config import catalog_config
from dsim.serve.images import catalog_image, catalog_ref, denied

CATALOG = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())["images"]



class Page(TypedDict):
    sizes: list[int]
    total: int
    index: str
    manifest: str
    image_id: str
    local_image_id: str
    virtual_mb: float
    lines: int


# the "linux; amd64" section of each remote page: its Layers list's sizes (in order), its "Total Size" in bytes,
# the first and second pull lines (index, platform manifest), its Image ID; the local page's Image ID and
# "Virtual Size" in decimal MB
PAGES: dict[str, Page] = {
    "postgres:16-alpine": {
        "sizes": [3849738, 969, 901406, 172, 116, 111293729, 9669, 128, 169, 6111, 185],
        "total": 116062392,
        "index": "sha256:721873c34ceb9f8d8fc265984940dc982404c105f19ad51be9fdc5970a6080ea",
        "manifest": "sha256:1a66d744c1b459e13b05a8fca341da84cb63383e99ce262210efee5a319d4551",
        "image_id": "sha256:81bd698b4594e751a3269e4dcd3e03a4a0ec0daf7b72e7aa1abd43cce9887542",
        "local_image_id": "sha256:81bd698b4594e751a3269e4dcd3e03a4a0ec0daf7b72e7aa1abd43cce9887542",
        "virtual_mb": 294.3,
        "lines": 24,  # the Dockerfile block's instructions
    },
    "redis:7-alpine": {
        "sizes": [3646875, 952, 194319, 12415949, 100, 32, 604],
        "total": 16258831,
        "index": "sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf",
        "manifest": "sha256:1db42ccef14898aa29bae778452d567534b59c107129cbc1163fb552de184d3c",
        "image_id": "sha256:5509c0097c6064aa8a3b1df58f1d950e67090fffa6678ae8f3f1dc2385f12deb",
        "local_image_id": "sha256:5509c0097c6064aa8a3b1df58f1d950e67090fffa6678ae8f3f1dc2385f12deb",
        "virtual_mb": 39.09,
        "lines": 15,
    },
}


@pytest.mark.parametrize("ref", sorted(PAGES))
def test_entry_is_its_page(ref: str) -> None:
    page, entry = PAGES[ref], CATALOG[ref]
    # the page's layer sizes add up to its printed Total Size, and are the entry's, in order
    assert sum(page["sizes"]) == page["total"] == entry["compressed_total"]
    assert [layer["size"] for layer in entry["layers"]] == page["sizes"] and entry["layer_count"] == len(page["sizes"])
    assert (entry["index_digest"], entry["manifest_digest"]) == (page["index"], page["manifest"])
    # the remote and local pages describe one build (same Image ID), so the local page's size is this image's
    assert entry["image_id_config_digest"] == page["image_id"] == page["local_image_id"]
    assert entry["uncompressed_same_build"] is True
    precision = entry["uncompressed_total_precision_bytes"]
    assert abs(entry["uncompressed_total"] - page["virtual_mb"] * 1_000_000) <= precision
    assert len(entry["history"]) == page["lines"]
    assert f"/repos/{ref.split(':')[0]}/remote/{ref.split(':')[1]}.md" in entry["source_url"]
    # dsim's image: the page's layers, the manifest the page names, a size the local page's
    image = catalog_image(ref)
    assert image is not None and image.manifest_digest == page["manifest"]
    assert [int(layer.size) for layer in image.layers] == page["sizes"]
    assert sum(layer.uncompressed for layer in catalog()[ref].layers) == pytest.approx(
        page["virtual_mb"] * 1_000_000, abs=len(page["sizes"]))  # each layer rounded to whole bytes


def test_postgres_16_alpine_config_is_its_pages() -> None:
    config = catalog_config("postgres:16-alpine")
    assert config.entrypoint == ("docker-entrypoint.sh",) and config.cmd == ("postgres",)
    assert config.exposed_ports == ("5432/tcp",) and config.stop_signal == "SIGINT"
    assert config.volumes == ("/var/lib/postgresql/data",)
    # the local page's Environment list, in order
    assert config.env == ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOSU_VERSION=1.19",
                          "LANG=en_US.utf8", "PG_MAJOR=16", "PG_VERSION=16.15",
                          "PG_SHA256=c1575341fa7bd40f5274ea465b34390f4dc64cdd0770af327005caaeb9f6b7ed",
                          "DOCKER_PG_LLVM_DEPS=llvm21-dev \t\tclang21", "PGDATA=/var/lib/postgresql/data")
    history = config.history
    # ADD, nine RUN lines and one COPY make its 11 layers
    assert [h.created_by.split(" ", 1)[0] for h in history if not h.empty_layer] == ["ADD"] + ["RUN"] * 8 + [
        "COPY", "RUN"]
    assert history[0].created_by == "ADD alpine-minirootfs-3.24.2-x86_64.tar.gz / # buildkit"
    assert history[-7].created_by == "VOLUME [/var/lib/postgresql/data]" and history[-7].empty_layer
    # its base layer is alpine:3.24's (alpine-minirootfs-3.24.2, the same digest and size on both pages)
    assert CATALOG["postgres:16-alpine"]["layers"][0]["digest"] == CATALOG["alpine:3.24"]["layers"][0]["digest"]


def test_postgres_alpine_is_not_16_alpine() -> None:
    """repos/postgres/remote/alpine.md is PostgreSQL 18.6 (Image ID sha256:c293117fcecd...): another image, which
    the catalog does not list, so Hub's answer for a tag it does not know."""
    assert catalog_ref("postgres:alpine") is None
    assert denied("postgres:alpine").message.endswith("manifest unknown")


def test_redis_7_alpine_is_not_redis_alpine() -> None:
    """redis:alpine's page is redis 8.10.2 on alpine 3.23.6 with no VOLUME line; redis:7-alpine's is redis 7.4.11 on
    alpine 3.21.7 with VOLUME [/data], as redis:7.4's (debian) page has."""
    seven, eight = catalog_config("redis:7-alpine"), catalog_config("redis:alpine")
    assert CATALOG["redis:7-alpine"]["manifest_digest"] != CATALOG["redis:alpine"]["manifest_digest"]
    assert seven.volumes == ("/data",) == catalog_config("redis:7.4").volumes and eight.volumes == ()
    assert seven.working_dir == eight.working_dir == "/data"
    assert seven.env == ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "REDIS_VERSION=7.4.11")
    assert seven.entrypoint == ("docker-entrypoint.sh",) and seven.cmd == ("redis-server",)
    assert seven.exposed_ports == ("6379/tcp",)
    assert [h.empty_layer for h in seven.history if h.created_by.startswith("ARG ")] == [True, True]
    # WORKDIR /data makes the well-known empty layer 4f4fb700... (32 bytes), the sixth of seven
    workdir = CATALOG["redis:7-alpine"]["layers"][5]
    assert (workdir["digest"][7:15], workdir["size"]) == ("4f4fb700", 32)


def test_mysql_8_0_is_its_pages_2024_build() -> None:
    """maxmood96/repo-info repos/mysql/remote/8.0.md@0059fb428ee21756e16f8a49bfecbcc7382a4221 (the fork's stored
    page): 11 layers adding up to its Total Size, MySQL 8.0.39 on Oracle Linux 9 slim; its local page (8.0.41, Image
    ID sha256:04faa32c...) is another build, so the size is the catalog's ratio, not read."""
    entry = CATALOG["mysql:8.0"]
    sizes = [49239252, 884, 983003, 6735197, 2608, 334, 49175874, 318, 60933161, 5328, 122]
    assert sum(sizes) == 167076081 == entry["compressed_total"]
    assert [layer["size"] for layer in entry["layers"]] == sizes
    assert entry["manifest_digest"] == "sha256:57b4387066094400a12d7b6a5aa88b7f5cd79bf96a07648bf75aafdbcedd2116"
    assert entry["index_digest"] == "sha256:e161b1be9ab9798174d52cc460c34ffd45488cc4ce6081431c8e2084f5d2aa0c"
    assert entry["image_id_config_digest"] == (
        "sha256:307199bdf3e26b54859050dccc6e8e7f9d12e120ad632061c01f2a28541eaaf6")
    assert entry["uncompressed_total"] is None
    config = catalog_config("mysql:8.0")
    assert config.volumes == ("/var/lib/mysql",) and config.exposed_ports == ("3306/tcp", "33060/tcp")
    assert config.env[1:] == ("GOSU_VERSION=1.17", "MYSQL_MAJOR=8.0", "MYSQL_VERSION=8.0.39-1.el9",
                              "MYSQL_SHELL_VERSION=8.0.38-1.el9")
    assert len(config.history) == 20 and sum(not h.empty_layer for h in config.history) == 11
    assert catalog_ref("mysql:8.0") == "mysql:8.0" and catalog_ref("mysql:latest") == "mysql:latest"


def test_node_20_alpine_is_its_pages_legacy_build() -> None:
    """maxmood96/repo-info repos/node/remote/20-alpine.md@00e6f9021e0c34c679a005054b4cd5903a0b7536: four layers
    adding up to its Total Size, built by the legacy builder (Docker Version 20.10.23, ``ADD file:...`` lines)."""
    entry = CATALOG["node:20-alpine"]
    sizes = [3408729, 42204204, 2342213, 451]
    assert sum(sizes) == 47955597 == entry["compressed_total"]
    assert [layer["size"] for layer in entry["layers"]] == sizes
    assert entry["manifest_digest"] == "sha256:5cf32127b55467ea639dc805a13c6f51b2facebc5eb11f9c5d49e3059f3c0aa4"
    assert entry["image_id_config_digest"] == (
        "sha256:c6e1506cb804028bb3fc099853aeb89d1a8b3ffc2d1d2e74c8fb4aeb53d5138f")
    config = catalog_config("node:20-alpine")
    assert config.env[1:] == ("NODE_VERSION=20.12.2", "YARN_VERSION=1.22.19")
    assert config.entrypoint == ("docker-entrypoint.sh",) and config.cmd == ("node",)
    assert config.history[0].created_by == (
        "/bin/sh -c #(nop) ADD file:37a76ec18f9887751cd8473744917d08b7431fc4085097bb6a09d81b41775473 in / ")
    assert {h.comment for h in config.history} == {""} and len(config.history) == 9
    assert [h.empty_layer for h in config.history] == [False, True, True, False, True, False, False, True, True]
