"""``filters`` (and ``all``, ``limit``, ``size``) of ``GET /containers/json`` and ``GET /images/json``, as
dockerd 28 honours them: moby's ``api/types/filters`` rules, then the list endpoints over HTTP on an
in-process server whose containers and images are set up by the test, expectations worked out by hand.

The host holds three catalog images (build dates from their Docker Hub histories): ``nginx:1.25``
(2023-08-15), ``nginx:latest`` (2026-07-15) and ``alpine:3.24`` (2026-09-17), and ``myalp:1``, a second tag
of ``alpine:3.24``. Four containers are made in this order: ``web`` (nginx, running, ``-p 8080:80``,
``-l app=web``), ``quick`` (alpine, ran and exited 3), ``ok`` (alpine, ran and exited 0) and ``fresh``
(alpine, created, never started). Lists are newest first, so ``-a`` is fresh, ok, quick, web.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import pytest

from dsim.components.errors import ApiError
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import chain_ids
from dsim.serve import filters as flt
from dsim.serve import images as refs
from dsim.serve import listing
from dsim.serve.server import Server, serve_scenario
from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli
from tests.serve.test_unit import request

if TYPE_CHECKING:
    from dsim.serve.engine import Engine

# ---------------------------------------------------------------------------------------------- moby's rules


def test_both_json_shapes_dockerd_accepts_parse_to_the_same_filters() -> None:
    """The CLI sends a map of sets, the SDK a map of lists; a bool of false still names the value (moby)."""
    assert flt.parse('{"status": {"exited": true, "created": false}}') == {"status": ["exited", "created"]}
    assert flt.parse('{"status": ["exited", "created", "exited"]}') == {"status": ["exited", "created"]}
    assert flt.parse("") == {}


@pytest.mark.parametrize("raw", ["{", "[]", '{"status": "exited"}', '{"status": [1]}', '{"a": {"b": "c"}}'])
def test_other_shapes_are_an_invalid_filter(raw: str) -> None:
    with pytest.raises(ApiError) as err:
        flt.parse(raw)
    assert (err.value.status, str(err.value)) == (400, "invalid filter")


def test_unknown_keys_are_named_in_the_error() -> None:
    with pytest.raises(ApiError, match="^invalid filter 'colour'$"):
        flt.validate({"name": ["a"], "colour": ["red"]}, frozenset({"name"}))


def test_match_is_exact_or_a_regular_expression_found_anywhere() -> None:
    assert flt.match({}, "name", "web")
    assert flt.match({"name": ["eb"]}, "name", "web")
    assert flt.match({"name": ["^w.b$"]}, "name", "web")
    assert not flt.match({"name": ["^eb"]}, "name", "web")
    assert flt.match({"name": ["("]}, "name", "(")  # not an expression: exact only
    assert not flt.match({"name": ["("]}, "name", "web(")


def test_label_list_needs_every_key_and_value() -> None:
    labels = {"app": "web", "tier": "front"}
    assert flt.match_kv_list({"label": ["app", "tier=front"]}, "label", labels)
    assert not flt.match_kv_list({"label": ["app", "tier=back"]}, "label", labels)
    assert not flt.match_kv_list({"label": ["owner"]}, "label", labels)
    assert flt.match_kv_list({"label": ["app=web=x"]}, "label", {"app": "web=x"})


def test_booleans_are_one_true_zero_false_and_nothing_else() -> None:
    assert flt.bool_or_default({"dangling": ["1"]}, "dangling", False) is True
    assert flt.bool_or_default({"dangling": ["false"]}, "dangling", True) is False
    assert flt.bool_or_default({}, "dangling", True) is True
    for values, message in ((["true", "0"], "invalid filter 'dangling=[true 0]'"),
                            (["yes"], "invalid filter 'dangling=[yes]'"), ([], "invalid filter 'dangling'")):
        with pytest.raises(ApiError) as err:
            flt.bool_or_default({"dangling": values}, "dangling", False)
        assert str(err.value) == message


@pytest.mark.parametrize(("pattern", "name", "matched"), [
    ("ngin*", "nginx", True), ("*", "library/nginx", False), ("*/*", "library/nginx", True),
    ("a?c", "abc", True), ("a?c", "a/c", False), ("[a-c]x", "bx", True), ("[^a-c]x", "bx", False),
    ("[^a-c]x", "dx", True), ("[\\]]", "]", True), ("\\*", "*", True), ("\\*", "x", False),
])
def test_path_match_is_gos(pattern: str, name: str, matched: bool) -> None:
    assert flt.path_match(pattern, name) is matched


@pytest.mark.parametrize("pattern", ["[", "[]", "[-a]", "[a-]", "x\\", "[z-a]"])
def test_malformed_globs_are_bad_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        flt.path_match(pattern, "x")


@pytest.mark.parametrize(("pattern", "ref", "matched"), [
    ("ngin*", "nginx:latest", True),            # the name alone
    ("nginx", "nginx:1.25", True),
    ("nginx:1.*", "nginx:1.25", True),          # name:tag
    ("nginx:1.*", "nginx:latest", False),
    ("*:1", "myalp:1", True),
    ("localhost:5000/*", "localhost:5000/demo:1", True),
    ("[", "nginx:latest", False),               # a bad pattern matches nothing
])
def test_familiar_match_tries_name_tag_then_name(pattern: str, ref: str, matched: bool) -> None:
    assert flt.familiar_match(pattern, ref) is matched


def _image(ref: str, digests: list[str]) -> ImageInfo:
    layers = tuple(LayerInfo(i, d, chain, 1e6, 2e6) for i, (d, chain) in enumerate(zip(digests, chain_ids(digests),
                                                                                        strict=True)))
    repo, tag = ref.split(":")
    return ImageInfo(ref, "hub", repo, tag, layers, "gzip", "sha256:" + ref.replace(":", "-"))


def test_ancestor_stands_for_the_image_and_every_image_built_on_it() -> None:
    """moby's ``populateImageFilterByParents``: a child's layers continue its parent's (containerd store's
    ``isRootfsChildOf``); a grandchild counts too; a sibling base with other layers does not."""
    base, app = _image("base:1", ["a", "b"]), _image("app:1", ["a", "b", "c"])
    tool = _image("tool:1", ["a", "b", "c", "d"])
    other = _image("other:1", ["a", "x", "c"])
    store = {image.ref: image for image in (base, app, tool, other)}
    engine = SimpleNamespace(local_images=lambda: store, find_image=lambda name: store.get(name))
    ids = listing._ancestors(cast("Engine", engine), {"ancestor": ["base:1"]})
    assert ids == {refs.image_id(base), refs.image_id(app), refs.image_id(tool)}
    assert listing._ancestors(cast("Engine", engine), {"ancestor": ["app:1", "nosuch:1"]}) == {
        refs.image_id(app), refs.image_id(tool)}
    assert listing._ancestors(cast("Engine", engine), {}) is None


# ---------------------------------------------------------------------------------------------- over HTTP

SCENARIO = """\
name: filters
hosts:
  docker:
    nic: 10Gbps
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ['nginx:1.25', 'nginx:latest', 'alpine:3.24']
"""
JSON = {"Content-Type": "application/json"}


def _call(server: Server, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    status, _, raw = request(server, method, f"/v1.50{path}", data, JSON if body is not None else None)
    return status, json.loads(raw) if raw.strip() else None


def _create(server: Server, name: str, config: dict[str, Any]) -> None:
    status, body = _call(server, "POST", f"/containers/create?name={name}", config)
    assert status == 201, body


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path: Path = tmp_path_factory.mktemp("filters") / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=50.0)
    server.start()
    try:
        assert _call(server, "POST", "/images/alpine:3.24/tag?repo=myalp&tag=1")[0] == 201
        _create(server, "web", {"Image": "nginx:latest", "Labels": {"app": "web"},
                                "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}})
        assert _call(server, "POST", "/containers/web/start")[0] == 204
        for name, code in (("quick", "3"), ("ok", "0")):
            _create(server, name, {"Image": "alpine:3.24",
                                   "Labels": {"dsim.duration": "1s", "dsim.exit_code": code}})
            assert _call(server, "POST", f"/containers/{name}/start")[0] == 204
            assert _call(server, "POST", f"/containers/{name}/wait")[1] == {"StatusCode": int(code)}
        _create(server, "fresh", {"Image": "alpine:3.24"})
        yield server
    finally:
        server.stop()


def ps(server: Server, filters: dict[str, list[str]] | None = None, params: str = "") -> list[str]:
    """Names ``GET /containers/json`` lists, in its order."""
    query = f"filters={quote(json.dumps(filters))}&" if filters is not None else ""
    status, body = _call(server, "GET", f"/containers/json?{query}{params}")
    assert status == 200, body
    return [entry["Names"][0].removeprefix("/") for entry in body]


def _container_id(server: Server, name: str) -> str:
    return str(_call(server, "GET", f"/containers/{name}/json")[1]["Id"])


def test_all_and_the_default_list(host: Server) -> None:
    assert ps(host) == ["web"]
    assert ps(host, params="all=1") == ["fresh", "ok", "quick", "web"]


@pytest.mark.parametrize(("filters", "params", "names"), [
    ({"status": ["exited"]}, "", ["ok", "quick"]),             # status implies all
    ({"status": ["created", "running"]}, "", ["fresh", "web"]),
    ({"status": ["paused"]}, "", []),
    ({"exited": ["3"]}, "all=1", ["quick"]),
    ({"exited": ["0"]}, "all=1", ["ok"]),                      # fresh never ran: no exit code to match
    ({"exited": ["0", "3"]}, "all=1", ["ok", "quick"]),
    ({"exited": ["3"]}, "", []),                               # exited alone does not imply all
    ({"label": ["app"]}, "all=1", ["web"]),
    ({"label": ["app=web"]}, "all=1", ["web"]),
    ({"label": ["app=db"]}, "all=1", []),
    ({"label": ["dsim.exit_code=3"]}, "all=1", ["quick"]),
    ({"label": ["dsim.duration", "dsim.exit_code=0"]}, "all=1", ["ok"]),
    ({"name": ["qu"]}, "all=1", ["quick"]),
    ({"name": ["^/w"]}, "all=1", ["web"]),
    ({"name": ["^w"]}, "all=1", ["web"]),                      # with or without the slash
    ({"name": ["e"]}, "all=1", ["fresh", "web"]),
    ({"name": ["ok", "web"]}, "all=1", ["ok", "web"]),
    ({"ancestor": ["alpine:3.24"]}, "all=1", ["fresh", "ok", "quick"]),
    ({"ancestor": ["myalp:1"]}, "all=1", ["fresh", "ok", "quick"]),   # the same image under another tag
    ({"ancestor": ["nginx"]}, "all=1", ["web"]),               # nginx:latest
    ({"ancestor": ["nginx:1.25"]}, "all=1", []),
    ({"ancestor": ["nosuch"]}, "all=1", []),                   # unknown: matches nothing, no error
    ({"before": ["quick"]}, "all=1", ["web"]),
    ({"since": ["quick"]}, "all=1", ["fresh", "ok"]),
    ({"since": ["web"], "before": ["fresh"]}, "all=1", ["ok", "quick"]),
    ({"since": ["web"]}, "", []),                              # the others are not running
    ({"publish": ["8080"]}, "", ["web"]),
    ({"publish": ["8000-8090/tcp"]}, "", ["web"]),
    ({"publish": ["8080/udp"]}, "", []),
    ({"expose": ["80"]}, "", ["web"]),
    ({"expose": ["8080"]}, "", []),
    ({"is-task": ["false"]}, "all=1", ["fresh", "ok", "quick", "web"]),
    ({"is-task": ["true"]}, "all=1", []),
    ({"network": ["bridge"]}, "all=1", ["fresh", "ok", "quick", "web"]),
    ({"network": ["host"]}, "all=1", []),
    ({"volume": ["data"]}, "all=1", []),
    ({"health": ["none"]}, "all=1", ["fresh", "ok", "quick", "web"]),
    ({"health": ["healthy"]}, "all=1", []),
    ({"isolation": ["hyperv"]}, "all=1", ["fresh", "ok", "quick", "web"]),   # Windows only: a no-op on Linux
    ({"status": ["exited"], "label": ["dsim.exit_code=0"]}, "", ["ok"]),      # keys combine with AND
    ({}, "limit=2", ["fresh", "ok"]),                          # limit shows stopped containers too
    ({"status": ["exited"]}, "limit=1", ["ok"]),
])
def test_container_filters(host: Server, filters: dict[str, list[str]], params: str, names: list[str]) -> None:
    assert ps(host, filters, params) == names


def test_id_is_a_unique_prefix_and_the_cli_shape_works(host: Server) -> None:
    quick = _container_id(host, "quick")
    assert ps(host, {"id": [quick[:6]]}, "all=1") == ["quick"]
    assert ps(host, {"id": [quick]}, "all=1") == ["quick"]
    assert ps(host, {"id": [quick[:6]], "name": ["web"]}, "all=1") == []
    assert ps(host, {"before": [quick]}, "all=1") == ["web"]        # before/since take a full ID too
    shaped = quote(json.dumps({"status": {"exited": True}}))
    status, body = _call(host, "GET", f"/containers/json?filters={shaped}")
    assert (status, [e["Names"] for e in body]) == (200, [["/ok"], ["/quick"]])


def test_size_adds_the_writable_layer_and_the_root_fs(host: Server) -> None:
    status, body = _call(host, "GET", "/containers/json?size=1")
    assert status == 200
    (web,) = body
    assert web["SizeRw"] == 0 and web["SizeRootFs"] > 0
    assert "SizeRw" not in _call(host, "GET", "/containers/json")[1][0]


@pytest.mark.parametrize(("query", "status", "message"), [
    ('{"colour": ["red"]}', 400, "invalid filter 'colour'"),
    ('{"status": ["stopped"]}', 400, "invalid filter 'status=stopped': invalid value for state (stopped): must be "
                                     "one of created, running, paused, restarting, removing, exited, dead"),
    ('{"exited": ["x"]}', 400, "invalid filter 'exited=x': strconv.Atoi: parsing \"x\": invalid syntax"),
    ('{"health": ["sick"]}', 400, "Unrecognised filter value for health: sick"),
    ('{"is-task": ["maybe"]}', 400, "invalid filter 'is-task=[maybe]'"),
    ('{"publish": ["1:2"]}', 400, "filter for 'publish' should not contain ':': 1:2"),
    ('{"before": ["nobody"]}', 404, "No such container: nobody"),
    ('{"status": "exited"}', 400, "invalid filter"),
    ("not json", 400, "invalid filter"),
])
def test_container_filter_errors_are_dockerds(host: Server, query: str, status: int, message: str) -> None:
    assert _call(host, "GET", f"/containers/json?filters={quote(query)}") == (status, {"message": message})


def test_a_bad_limit_is_refused(host: Server) -> None:
    refused = {"message": 'strconv.Atoi: parsing "x": invalid syntax'}
    assert _call(host, "GET", "/containers/json?limit=x") == (400, refused)


def images(server: Server, filters: dict[str, list[str]] | None = None) -> list[list[str]]:
    """RepoTags of each image ``GET /images/json`` lists, in its order."""
    query = f"?filters={quote(json.dumps(filters))}" if filters is not None else ""
    status, body = _call(server, "GET", f"/images/json{query}")
    assert status == 200, body
    return [entry["RepoTags"] for entry in body]


ALPINE = ["alpine:3.24", "myalp:1"]


@pytest.mark.parametrize(("filters", "listed"), [
    (None, [ALPINE, ["nginx:latest"], ["nginx:1.25"]]),         # newest first
    ({"reference": ["ngin*"]}, [["nginx:latest"], ["nginx:1.25"]]),
    ({"reference": ["nginx"]}, [["nginx:latest"], ["nginx:1.25"]]),   # what `docker images nginx` sends
    ({"reference": ["nginx:1.*"]}, [["nginx:1.25"]]),
    ({"reference": ["alpine"]}, [["alpine:3.24"]]),              # only the tags that matched
    ({"reference": ["*:1"]}, [["myalp:1"]]),
    ({"reference": ["myalp", "nginx:latest"]}, [["myalp:1"], ["nginx:latest"]]),
    ({"reference": ["["]}, []),
    ({"dangling": ["true"]}, []),                                # every local image is tagged
    ({"dangling": ["false"]}, [ALPINE, ["nginx:latest"], ["nginx:1.25"]]),
    # nginx's Dockerfile sets LABEL maintainer (repos/nginx/remote/latest.md, 1.25.md); alpine's sets none
    ({"label": ["maintainer"]}, [["nginx:latest"], ["nginx:1.25"]]),
    ({"label!": ["maintainer"]}, [ALPINE]),
    ({"before": ["nginx:latest"]}, [["nginx:1.25"]]),
    ({"since": ["nginx:latest"]}, [ALPINE]),
    ({"since": ["nginx:1.25"], "before": ["myalp:1"]}, [["nginx:latest"]]),
    ({"since": ["nginx:1.25"], "reference": ["alp*"]}, [["alpine:3.24"]]),
])
def test_image_filters(host: Server, filters: dict[str, list[str]] | None, listed: list[list[str]]) -> None:
    assert images(host, filters) == listed


@pytest.mark.parametrize(("query", "status", "message"), [
    ('{"colour": ["red"]}', 400, "invalid filter 'colour'"),
    ('{"dangling": ["maybe"]}', 400, "invalid filter 'dangling=[maybe]'"),
    ('{"before": ["nosuch"]}', 404, "No such image: nosuch"),
    ('{"until": ["1h"]}', 501, "dsim serve does not simulate the 'until' filter of docker images (the model does "
                               "not keep when each tag was created)"),
    ("[", 400, "invalid filter"),
])
def test_image_filter_errors_are_dockerds(host: Server, query: str, status: int, message: str) -> None:
    assert _call(host, "GET", f"/images/json?filters={quote(query)}") == (status, {"message": message})


# ---------------------------------------------------------------------------------------------- the docker CLI


@needs_cli
def test_the_cli_filters_ps_and_images(tmp_path: Path) -> None:
    """``docker ps/images --filter`` against ``dsim serve``: the CLI sends the map-of-sets shape, prints the
    filtered lists, and prints dockerd's error with exit status 1 for a bad filter."""
    proc = ServeProcess(tmp_path, speed=50.0, scenario=SCENARIO)
    try:
        for args in (("run", "-d", "--name", "web", "-p", "8080:80", "nginx"),
                     ("run", "--name", "quick", "-l", "dsim.duration=1s", "-l", "dsim.exit_code=3", "alpine:3.24"),
                     ("run", "--name", "ok", "-l", "dsim.duration=1s", "alpine:3.24"),
                     ("create", "--name", "fresh", "alpine:3.24")):
            ran = docker(proc, *args)
            assert ran.returncode == (3 if "quick" in args else 0), ran.stderr
        listed = docker(proc, "ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}")
        assert (listed.returncode, listed.stdout.split()) == (0, ["ok", "quick"]), listed.stderr
        coded = docker(proc, "ps", "-a", "-f", "exited=3", "-f", "ancestor=alpine:3.24", "--format", "{{.Names}}")
        assert coded.stdout.split() == ["quick"], coded.stderr
        found = docker(proc, "images", "--filter", "reference=ngin*", "--format", "{{.Repository}}:{{.Tag}}")
        assert (found.returncode, found.stdout.split()) == (0, ["nginx:latest", "nginx:1.25"]), found.stderr
        named = docker(proc, "images", "alpine", "--format", "{{.Repository}}:{{.Tag}}")
        assert named.stdout.split() == ["alpine:3.24"], named.stderr
        bad = docker(proc, "ps", "-a", "--filter", "status=stopped")
        assert bad.returncode == 1 and bad.stdout == ""
        assert bad.stderr.strip() == ("Error response from daemon: invalid filter 'status=stopped': invalid value for "
                                      "state (stopped): must be one of created, running, paused, restarting, "
                                      "removing, exited, dead")
        unknown = docker(proc, "images", "--filter", "colour=red")
        said = "Error response from daemon: invalid filter 'colour'"
        assert (unknown.returncode, unknown.stderr.strip()) == (1, said)
    finally:
        proc.stop()
