"""Units of the image side of ``dsim serve``: the catalog's data (each entry consistent with its source's
rules), the classic builder's failure rules, built configs, and content IDs."""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from pathlib import Path

import pytest

from dsim.dockerfile.parse import parse_dockerfile
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.serve.build_flow import exit_status
from dsim.serve.image_config import DEFAULT_PATH, ImageConfig, built_config, catalog_config, content_id
from dsim.serve.image_ops import decode_auth
from dsim.serve.images import catalog_ref, denied

CATALOG = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())["images"]


@pytest.mark.parametrize("ref", sorted(CATALOG))
def test_catalog_entry_is_consistent_with_its_source(ref: str) -> None:
    entry = CATALOG[ref]
    # the page's "Total Size" is the sum of its layers' sizes
    assert sum(layer["size"] for layer in entry["layers"]) == entry["compressed_total"]
    assert entry["source_url"].startswith("https://github.com/") and entry["source"]
    for digest in (entry["manifest_digest"], *(layer["digest"] for layer in entry["layers"])):
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    if "history" in entry:
        # BuildKit makes one layer per RUN, COPY, ADD and WORKDIR; every other instruction is an empty layer
        # (an entry may say otherwise: "empty_layer" on a RUN that only changed the config)
        made = [line for line in entry["history"]
                if (line.get("empty_layer") is False if isinstance(line, dict) and "empty_layer" in line
                    else (line if isinstance(line, str) else line["created_by"]).split(" ", 1)[0]
                    in ("RUN", "COPY", "ADD", "WORKDIR"))]
        assert len(made) == len(entry["layers"])


def test_every_catalog_entry_is_documented_with_its_source() -> None:
    text = (Path(__file__).parents[2] / "docs" / "catalog.md").read_text()
    for ref, entry in CATALOG.items():
        assert f"| `{ref}` |" in text and entry["source_url"] in text, ref


def test_common_images_are_in_the_catalog() -> None:
    for ref in ("python:3.11", "node:18", "nginx:alpine", "alpine:3.20", "busybox", "hello-world", "mysql"):
        assert catalog_ref(ref if ":" in ref else f"{ref}:latest") is not None, ref


def test_unknown_tag_vs_unknown_repository() -> None:
    assert denied("nginx:9.9.9").message == "manifest for nginx:9.9.9 not found: manifest unknown: manifest unknown"
    assert denied("nosuch").message.startswith("pull access denied for nosuch, repository does not exist")


@pytest.mark.parametrize(("command", "status"), [
    ("false", 1), ("/bin/false", 1), ("exit 3", 3), ("make && false", 1), ("set -e; exit 2", 2),
    ("false && echo never", 1), ("exit 0", None), ("exit 256", None), ("echo false", None), ("true", None),
])
def test_exit_status_of_commands_that_certainly_fail(command: str, status: int | None) -> None:
    # a shell list's status is its last command's; `a && b` stops at a failing a; exit N is N mod 256
    assert exit_status(command) == status


def test_config_from_base_and_dockerfile() -> None:
    base = ImageConfig(cmd=("nginx",), entrypoint=("/entry.sh",), env=("PATH=/bin", "A=1"), exposed_ports=("80/tcp",))
    text = "FROM web\nENV A=2 B=3\nEXPOSE 443\nWORKDIR /a\nWORKDIR b\nUSER app\n"
    config = built_config(parse_dockerfile(text), {"web:latest": base})
    assert config.env == ("PATH=/bin", "A=2", "B=3")  # a replaced variable keeps its place
    assert config.cmd == ("nginx",) and config.entrypoint == ("/entry.sh",)
    assert config.exposed_ports == ("80/tcp", "443/tcp") and config.working_dir == "/a/b" and config.user == "app"
    reset = built_config(parse_dockerfile("FROM web\nENTRYPOINT [\"x\"]\n"), {"web:latest": base})
    assert reset.entrypoint == ("x",) and reset.cmd is None
    shell = built_config(parse_dockerfile("FROM web\nCMD run it\n"), {"web:latest": base})
    assert shell.cmd == ("/bin/sh", "-c", "run it")


@pytest.mark.parametrize(("redeclared", "expected"), [
    # an ARG goes out of scope at its stage's end; a global ARG and a --build-arg are in scope only where the
    # stage declares them (Dockerfile reference, "Scope" and "Understand how ARG and FROM interact")
    ("", ("X=none", "Y=unset")),
    ("ARG VER\nARG G\n", ("X=7", "Y=global")),  # the build arg's value, the global ARG's default
])
def test_arg_scope_in_the_built_config(redeclared: str, expected: tuple[str, ...]) -> None:
    base = ImageConfig(env=("PATH=/bin",))
    text = (f"ARG G=global\nFROM web AS one\nARG VER=1\nRUN true\nFROM web\n{redeclared}"
            "ENV X=${VER:-none} Y=${G:-unset}\n")
    config = built_config(parse_dockerfile(text), {"web:latest": base}, build_args={"VER": "7"})
    assert config.env == ("PATH=/bin", *expected)


def test_multi_stage_final_stage_and_from_args() -> None:
    text = ("ARG BASE=web\nFROM ${BASE} AS build\nENV STAGE=build\nFROM scratch AS other\nENV X=1\n"
            "FROM build\nLABEL final=yes\n")
    config = built_config(parse_dockerfile(text), {"web:latest": ImageConfig(env=("PATH=/bin",))})
    assert config.env == ("PATH=/bin", "STAGE=build") and dict(config.labels) == {"final": "yes"}
    unknown = built_config(parse_dockerfile("FROM elsewhere\nENV Y=2\n"), {})
    assert unknown.env == (DEFAULT_PATH, "Y=2")


def test_content_id_ignores_the_tag_and_follows_the_content() -> None:
    layers = (LayerInfo(0, "sha256:" + "a" * 64, "sha256:" + "a" * 64, 10.0, 27.0),)
    one = ImageInfo("x:1", "", "x", "1", layers, "gzip", "")
    two = ImageInfo("y:2", "", "y", "2", layers, "gzip", "")
    config = ImageConfig(cmd=("a",))
    assert content_id(config, one) == content_id(config, two)
    assert content_id(ImageConfig(cmd=("b",)), one) != content_id(config, one)


def test_catalog_history_and_config_come_from_the_entry() -> None:
    config = catalog_config("hello-world:latest")
    assert config.cmd == ("/hello",)
    assert [(h.created_by, h.empty_layer) for h in config.history] == [("COPY hello / # buildkit", False),
                                                                       ('CMD ["/hello"]', True)]


def test_catalog_bases_have_their_pages_history() -> None:
    """alpine, ubuntu and debian had no history (``docker history alpine``: one line, CREATED BY empty): their
    repo-info pages' ``linux; amd64`` Dockerfile blocks give it (docker-library/repo-info repos/alpine/remote/
    3.24.md, repos/debian/remote/bookworm-20260918.md), one line per history entry, oldest first."""
    alpine = catalog_config("alpine:3.24").history
    assert [(h.created_by, h.empty_layer) for h in alpine] == [
        ("ADD alpine-minirootfs-3.24.2-x86_64.tar.gz / # buildkit", False), ('CMD ["/bin/sh"]', True)]
    assert [h.comment for h in alpine] == ["buildkit.dockerfile.v0"] * 2
    debian = catalog_config("debian:bookworm").history
    assert [(h.created_by, h.empty_layer) for h in debian] == [
        ("RUN # debian.sh --arch 'amd64' out/ 'bookworm' '@1789689600'", False)]
    # node:22-alpine's page (repos/node/remote/22-alpine.md): alpine's two lines, then node's own
    node = catalog_config("node:22-alpine")
    assert [h.created_by.split(" ", 1)[0] for h in node.history] == [
        "ADD", "CMD", "ENV", "RUN", "ENV", "RUN", "COPY", "ENTRYPOINT", "CMD"]
    assert node.history[6].created_by == "COPY docker-entrypoint.sh /usr/local/bin/ # buildkit"
    assert node.env[1:] == ("NODE_VERSION=22.23.3", "YARN_VERSION=1.22.22")  # its ENV lines, after the PATH
    # python:3.12-slim's page (repos/python/remote/3.12-slim.md): four RUN layers, its ENV lines the config's Env
    slim = catalog_config("python:3.12-slim")
    assert [h.created_by.split(" ", 1)[0] for h in slim.history if not h.empty_layer] == ["RUN"] * 4
    assert slim.env == ("PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "LANG=C.UTF-8", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
                        "PYTHON_VERSION=3.12.13",
                        "PYTHON_SHA256=c08bc65a81971c1dd5783182826503369466c7e67374d1646519adf05207b684")
    # ubuntu's page: ARG, ARG, LABEL, ADD (its one layer), CMD
    assert [h.empty_layer for h in catalog_config("ubuntu:24.04").history] == [True, True, True, False, True]


def test_the_other_catalog_entries_have_their_pages_history() -> None:
    """The nine entries that showed one line per layer (CREATED BY inferred or empty) carry their repo-info pages'
    ``linux; amd64`` Dockerfile blocks (repos/<name>/remote/<tag>.md at each entry's source commit, whose layer
    digests and Image ID are the entry's), and the config those lines set (ENV, LABEL, VOLUME, WORKDIR)."""
    pages = {"nginx:latest": 18, "nginx:1.25": 16, "python:3.12": 13, "node:22": 12, "node:22-slim": 9,
             "node:20": 12, "golang:1.25": 11, "redis:7.4": 14, "postgres:16": 25}  # lines in each page's block
    for ref, lines in pages.items():
        history = catalog_config(ref).history
        assert len(history) == lines, ref
        assert all(h.created_by for h in history), ref
    nginx = catalog_config("nginx:latest")
    # repos/nginx/remote/latest.md: the debian RUN, nginx's RUN, five COPY lines; six ENV lines, one LABEL
    assert [h.created_by.split(" ", 1)[0] for h in nginx.history if not h.empty_layer] == ["RUN"] * 2 + ["COPY"] * 5
    assert nginx.history[9].created_by == "COPY docker-entrypoint.sh / # buildkit"
    assert nginx.env[1:] == ("NGINX_VERSION=1.31.3", "NJS_VERSION=1.0.0", "NJS_RELEASE=1~trixie",
                             "ACME_VERSION=0.4.1", "PKG_RELEASE=1~trixie", "DYNPKG_RELEASE=1~trixie")
    assert nginx.labels == (("maintainer", "NGINX Docker Maintainers <docker-maint@nginx.com>"),)
    # nginx:1.25 was built by the legacy builder (its page: Docker Version 20.10.23, COPY file:<hash> lines)
    old = catalog_config("nginx:1.25").history
    assert old[0].created_by == (
        "/bin/sh -c #(nop) ADD file:209589a8bdb5a3788ee42ecdbccbbb561835dab96b0d8286bb5a2229d2f41be7 in / ")
    assert old[7].created_by == (
        "/bin/sh -c #(nop) COPY file:01e75c6dd0ce317d516928a17584d111cd082840c01e58be0afc851b33adb916 in / ")
    assert old[13].created_by == "/bin/sh -c #(nop)  EXPOSE 80" and {h.comment for h in old} == {""}
    # golang: ENV PATH replaces the base's PATH where it stood (first); WORKDIR /go is its last layer
    golang = catalog_config("golang:1.25")
    assert golang.env == ("PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "GOLANG_VERSION=1.25.12", "GOTOOLCHAIN=local", "GOPATH=/go")
    assert golang.working_dir == "/go" and (golang.history[-1].created_by, golang.history[-1].empty_layer) == (
        "WORKDIR /go", False)
    redis = catalog_config("redis:7.4")
    assert redis.volumes == ("/data",) and redis.env[1:] == ("REDIS_VERSION=7.4.11",)
    assert [h.empty_layer for h in redis.history if h.created_by.startswith("ARG ")] == [True, True]
    postgres = catalog_config("postgres:16")
    assert postgres.env[0].endswith(":/usr/lib/postgresql/16/bin") and postgres.env[-1] == (
        "PGDATA=/var/lib/postgresql/data")
    assert postgres.history[-5].created_by == (
        "RUN ln -sT docker-ensure-initdb.sh /usr/local/bin/docker-enforce-initdb.sh # buildkit")
    assert catalog_config("python:3.12").env[3] == "PYTHON_VERSION=3.12.14"
    assert catalog_config("node:22").env[1:] == catalog_config("node:22-slim").env[1:] == (
        "NODE_VERSION=22.23.2", "YARN_VERSION=1.22.22")
    assert catalog_config("node:20").env[1:] == ("NODE_VERSION=20.18.1", "YARN_VERSION=1.22.22")


def test_a_legacy_built_catalog_image_shows_the_lines_dockerd_wrote() -> None:
    """ubuntu is built by the legacy builder (its page: Docker Version 26.1.3, no ``# buildkit``); the page leaves
    out the shell, which dockerd wrote: ``#(nop) `` and the comment as one argument for ADD/COPY/WORKDIR, two
    for the other instructions (moby daemon/builder/dockerfile/internals.go), ``/bin/sh -c`` before a RUN."""
    ubuntu = catalog_config("ubuntu:24.04").history
    assert [h.created_by for h in ubuntu] == [
        "/bin/sh -c #(nop)  ARG RELEASE", "/bin/sh -c #(nop)  ARG LAUNCHPAD_BUILD_ARCH",
        "/bin/sh -c #(nop)  LABEL org.opencontainers.image.version=24.04",
        "/bin/sh -c #(nop) ADD file:43d479b270bbaf47965cfc86b37f4c517bda83ddefda6f708f98c3b2b7d15396 in / ",
        '/bin/sh -c #(nop)  CMD ["/bin/bash"]']
    assert {h.comment for h in ubuntu} == {""}
    assert catalog_config("registry:2").history[2].created_by == "/bin/sh -c apk add --no-cache ca-certificates"


def test_registry_auth_header() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"username": "alice", "password": "x"}).encode()).decode()
    assert decode_auth(header.rstrip("="))["username"] == "alice"
    assert decode_auth("e30=") == {} and decode_auth(None) == {} and decode_auth("%%%") == {}
