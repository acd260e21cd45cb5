"""The index service calls find a callee through (components/service_calls.py ``_Directory``): which container
answers an alias several hold, or a port on the host's network several listen on, as containers start, stop,
are renamed, connected and removed; and, for random sequences of those, the very answer of a scan of every
container on the host (the way calls were resolved before the index: a reference copy below)."""

from __future__ import annotations

import contextlib
import dataclasses
import textwrap
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.container import REMOVED, RUNNING, Container
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError
from dsim.components.service_calls import (
    EXIT_CONNECT,
    EXIT_RESOLVE,
    CallFailed,
    ServiceCalls,
    _listening,
    _namespace_owner,
    _shared_dns,
)
from dsim.distributions import constant
from dsim.domain.containers import ContainerSpec
from dsim.domain.service_calls import CallSpec
from dsim.result import SimResult
from dsim.run import build_world
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World
from tests.helpers import run_text

RUNTIME = ("{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, "
           "cpu: {create: 0, mount: 0, netns: 0, start: 0, exec: 0}}")
HOST = (f"{{cpus: 4, daemon: {{api_service_time: 0s, workers: 100, metadata_commit: 0s}}, "
        f'preloaded: ["nginx:1.25"], runtime: {RUNTIME}, networks: {{app: {{}}, other: {{}}}}, '
        "networking: {bridge_rate: 1MB/s, bridge_latency: 1ms, loopback_latency: 0s}}")


def run_steps(steps: str) -> SimResult:
    """One workload on host h (starts cost nothing) running ``steps``, a YAML list."""
    return run_text(textwrap.dedent(f"""
    name: t
    hosts:
      h: {HOST}
    workloads:
      w: {{arrival: {{times: [0s]}}, steps: {steps}}}
    """))


def callees(result: SimResult) -> list[tuple[str, str, str]]:
    """(target, callee, status) of each call, in time order."""
    spans = sorted(result.spans_of("service_call"), key=lambda span: (span.start, span.end))
    return [(span.subject, span.attrs["callee"], span.attrs["status"]) for span in spans]


# ---------------------------------------------------------------- worked by hand

def test_an_alias_two_hold_answers_the_first_created_that_is_reachable() -> None:
    """s1 then s2 hold `api` on app: s1 answers. Stopped, s1 has no endpoint: s2. Started again, s1 is again
    the first (creation order, not start order). Removed: s2. A later holder s3 does not jump ahead of s2."""
    server = '{{run: {{image: "nginx:1.25", name: {}, detach: true, network: app, aliases: [api]}}}}'
    client = '{run: {image: "nginx:1.25", network: app, calls: [{to: api}]}}'
    steps = ", ".join([server.format("s1"), server.format("s2"), client,
                       "{stop: {container: s1}}", client,
                       "{start: {container: s1}}", client,
                       "{stop: {container: s1}}", "{rm: {container: s1}}", client,
                       server.format("s3"), client])
    result = run_steps(f"[{steps}]")
    assert callees(result) == [("api", name, "ok") for name in ("s1", "s2", "s1", "s2", "s2")]


@pytest.mark.parametrize("swap", [
    "{run: {image: \"nginx:1.25\", name: s2, detach: true, network: app, aliases: [api]}}, {rm: {container: s1}}",
    "{rm: {container: s1}}, {run: {image: \"nginx:1.25\", name: s2, detach: true, network: app, aliases: [api]}}",
])
def test_a_holder_replaced_between_two_calls_is_the_new_one(swap: str) -> None:
    """b is created (its call made when it starts), a first call indexes the host (s1, b, a client); then s1
    stops and goes and s2 takes `api`, one created and one removed, in either order, so the host has as many
    containers as at the first call: b's call reaches s2 (only the runtime's reports tell the index)."""
    steps = f"""[
      {{run: {{image: "nginx:1.25", name: s1, detach: true, network: app, aliases: [api]}}}},
      {{create: {{image: "nginx:1.25", name: b, network: app, calls: [{{to: api}}]}}}},
      {{run: {{image: "nginx:1.25", network: app, calls: [{{to: api}}]}}}},
      {{stop: {{container: s1}}}}, {swap},
      {{start: {{container: b}}}}]"""
    assert callees(run_steps(steps)) == [("api", "s1", "ok"), ("api", "s2", "ok")]


def test_an_alias_on_another_network_is_passed_over() -> None:
    """s1 holds `api` on `other`, s2 on app: a client on app gets s2 though s1 came first; with s2 gone the
    name does not resolve (curl's exit 6)."""
    steps = """[
      {run: {image: "nginx:1.25", name: s1, detach: true, network: other, aliases: [api]}},
      {run: {image: "nginx:1.25", name: s2, detach: true, network: app, aliases: [api]}},
      {run: {image: "nginx:1.25", network: app, calls: [{to: api}]}},
      {stop: {container: s2}}, {rm: {container: s2}},
      {run: {image: "nginx:1.25", network: app, calls: [{to: api}]}}]"""
    result = run_steps(steps)
    assert callees(result) == [("api", "s2", "ok"), ("api", "", "failed")]
    [end] = result.job_ends
    assert end.error.endswith("curl: (6) Could not resolve host: api")


def test_a_host_port_is_the_first_running_host_network_listener() -> None:
    """w1 and w2 on the host network both listen on 80 (w2 through `8080:80`, whose container port counts),
    w3 on 81: h:80 is w1; w1 stopped, w2; w1 removed, still w2; h:81 is w3; h:82 nobody: refused."""
    steps = """[
      {run: {image: "nginx:1.25", name: w1, detach: true, network: host, expose: ["80"]}},
      {run: {image: "nginx:1.25", name: w2, detach: true, network: host, ports: ["8080:80"]}},
      {run: {image: "nginx:1.25", name: w3, detach: true, network: host, expose: ["81/tcp"]}},
      {run: {image: "nginx:1.25", calls: [{to: "h:80"}]}},
      {stop: {container: w1}},
      {run: {image: "nginx:1.25", calls: [{to: "h:80"}]}},
      {rm: {container: w1}},
      {run: {image: "nginx:1.25", calls: [{to: "h:80"}, {to: "h:81"}]}},
      {run: {image: "nginx:1.25", calls: [{to: "h:82"}]}}]"""
    result = run_steps(steps)
    assert callees(result) == [("h:80", "w1", "ok"), ("h:80", "w2", "ok"), ("h:80", "w2", "ok"),
                               ("h:81", "w3", "ok"), ("h:82", "", "failed")]


# ---------------------------------------------------------------- the scan it replaces (a reference copy)

def scan_resolve(calls: ServiceCalls, call: CallSpec, caller: Container, host: str) -> tuple[Container, str]:
    """``ServiceCalls._resolve`` as it was: every container on the host looked at for an alias."""
    if caller.spec.network == "none":
        raise CallFailed(EXIT_RESOLVE, f"curl: (6) Could not resolve host: {call.to.partition(':')[0]}")
    target = call.host_port
    if target is not None:
        return scan_published(calls, *target)
    side = calls._host(host)
    name = call.to
    asker = _namespace_owner(caller, side.containers)
    if side.networks.resolve(asker, name) is not None:
        return side.containers[name], host
    for other in side.containers.values():
        if name in other.spec.aliases and other is not asker and _shared_dns(side.networks, asker, other):
            return other, host
    raise CallFailed(EXIT_RESOLVE, f"curl: (6) Could not resolve host: {name}")


def scan_published(calls: ServiceCalls, host: str, port: int) -> tuple[Container, str]:
    """``ServiceCalls._published`` as it was: every container on the host looked at for a listener."""
    side = calls.host(host)
    if side is None:
        raise CallFailed(EXIT_RESOLVE, f"curl: (6) Could not resolve host: {host}")
    owner = side.kernel.ports.get((port, "tcp"))
    callee = side.containers.get(owner) if owner is not None else None
    if callee is None:
        callee = next((c for c in side.containers.values() if c.spec.network == "host" and c.state == RUNNING
                       and port in _listening(c)), None)
    if callee is None or callee.state != RUNNING:
        raise CallFailed(EXIT_CONNECT, f"curl: (7) Failed to connect to {host} port {port}: Connection refused")
    return callee, host


# ---------------------------------------------------------------- random sequences against the scan

MODES = ("app", "app", "app", "other", "bridge", "host", "host", "none", "container:c0")  # app and host weigh more
TARGETS = ("api", "db", "ghost", "c0", "c1", "h:80", "h:81", "h:8080", "h:82", "elsewhere:80")

specs = st.builds(
    lambda mode, aliases, ports, expose: ContainerSpec(
        "nginx:1.25", None, None, None, ports if not mode.startswith("container:") else (),
        duration=constant(float("inf")), stop_time=constant(0.0), network=mode, aliases=aliases, expose=expose),
    st.sampled_from(MODES),
    st.sampled_from(((), ("api",), ("api",), ("db",), ("api", "db"), ("db", "api"))),
    st.lists(st.sampled_from(("80:80", "8080:80", "81")), max_size=1, unique=True).map(tuple),
    st.lists(st.sampled_from(("80", "81/tcp")), max_size=2, unique=True).map(tuple),
)
operations = st.one_of(
    st.tuples(st.sampled_from(("create", "run")), specs),
    st.tuples(st.sampled_from(("start", "stop", "rm", "rename", "look")), st.integers(0, 7)),
    st.tuples(st.sampled_from(("connect", "disconnect")), st.integers(0, 7), st.sampled_from(("app", "other"))),
)


def world() -> World:
    """Host h with networks app and other, every start cost zero; its one job comes much later (never)."""
    return build_world(load_scenario_text(textwrap.dedent(f"""
    name: t
    hosts:
      h: {HOST}
    workloads:
      w: {{arrival: {{times: [100000s]}}, steps: [{{ps: {{}}}}]}}
    """)))


def drive(w: World, operation: Generator[Any, Any, Any]) -> Any:
    process = w.env.process(operation)
    w.env.run(until=process)
    return process.value


def apply(w: World, daemon: Daemon, made: list[Container], operation: tuple[Any, ...]) -> None:
    """One operation through the daemon's API; Docker's refusals (ApiError) leave things as they were."""
    kind, *args = operation
    if kind in ("create", "run"):  # run: create, then start
        with contextlib.suppress(ApiError):
            made.append(drive(w, daemon.create(dataclasses.replace(args[0], name=f"c{len(made)}"), job=1)))
            if kind == "run":
                drive(w, daemon.start(made[-1], job=1))
        return
    if kind == "look" or not made or made[args[0] % len(made)].state == REMOVED:
        return
    container = made[args[0] % len(made)]
    verbs = {
        "start": lambda: daemon.start(container, job=1),
        "stop": lambda: daemon.stop(container, 0.0, job=1),
        "rm": lambda: daemon.rm(container, job=1),
        "rename": lambda: daemon.rename(container, container.name + "r", job=1),
        "connect": lambda: daemon.network_connect(args[1], container, job=1),
        "disconnect": lambda: daemon.network_disconnect(args[1], container, job=1),
    }
    with contextlib.suppress(ApiError):
        drive(w, verbs[kind]())


def outcome(resolve: Any, *args: Any) -> tuple[Any, ...]:
    """What a resolution came to: the callee (by identity) and host, the client's failure, or an error."""
    try:
        callee, host = resolve(*args)
    except CallFailed as failure:
        return ("failed", failure.exit_code, failure.message)
    except KeyError as error:  # a name the networks' table and the side's disagree on: the same either way
        return ("error", repr(error))
    return ("ok", id(callee), host)


def compare(calls: ServiceCalls, made: list[Container]) -> None:
    """Every caller still on the host, every target: the index's answer is the scan's; and the index holds,
    for each alias and port, exactly the side's holders in the side's order."""
    for caller in (c for c in made if c.state != REMOVED):
        for to in TARGETS:
            call = CallSpec(to)
            expected = outcome(scan_resolve, calls, call, caller, "h")
            assert outcome(calls._resolve, call, caller, "h") == expected, (to, caller.name)
    side = calls._host("h")
    directory = calls._directory("h")
    for alias in ("api", "db"):
        assert list(directory.holding(alias)) == [c for c in side.containers.values() if alias in c.spec.aliases]
    for port in (80, 81, 8080):
        assert list(directory.listening(port)) == [c for c in side.containers.values()
                                                   if c.spec.network == "host" and port in _listening(c)]


@settings(max_examples=60, deadline=None)
@given(st.lists(operations, max_size=40))
def test_the_index_answers_as_a_scan_of_the_host_after_any_operations(ops: list[tuple[Any, ...]]) -> None:
    """Random creates, starts, stops, removals, renames, connects and disconnects, with looks between (the
    first look makes the host's side and its index, so some operations come before it, some after):
    at each look and at the end, the index and the scan agree on every caller's every target."""
    w = world()
    daemon, calls = w.daemons["h"], w.service_calls
    made: list[Container] = []
    for operation in ops:
        apply(w, daemon, made, operation)
        if operation[0] == "look":
            compare(calls, made)
    compare(calls, made)
