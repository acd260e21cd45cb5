"""The start-storm fields (``networking.endpoint_commits``, ``bridge_commits``, ``store_commit``, ``sandbox_commits``,
``join_commits``, ``leave_commits``, ``bridge_join_commits``; a runtime
profile's ``start_saving``) refuse bad values as one located ScenarioError (file:line:column and the field),
like every other field of the format."""

from __future__ import annotations

import textwrap

import pytest

from dsim.api import load_scenario_text
from dsim.errors import ScenarioError


def scenario(host: str) -> str:
    return textwrap.dedent(f"""\
        name: fields
        hosts:
          h: {{cpus: 1, {host}}}
        workloads:
          w: {{arrival: {{burst: 1}}, steps: [{{sleep: 1s}}]}}
        """)


@pytest.mark.parametrize(("host", "field"), [
    ("networking: {endpoint_commits: -1}", "hosts.h.networking.endpoint_commits"),
    ("networking: {bridge_commits: two}", "hosts.h.networking.bridge_commits"),
    ("networking: {store_commit: -2ms}", "hosts.h.networking.store_commit"),
    ("networking: {store_commit: inf}", "hosts.h.networking.store_commit"),
    ("networking: {sandbox_commits: -1}", "hosts.h.networking.sandbox_commits"),
    ("networking: {join_commits: 1.5}", "hosts.h.networking.join_commits"),
    ("networking: {leave_commits: many}", "hosts.h.networking.leave_commits"),
    ("networking: {bridge_join_commits: -2}", "hosts.h.networking.bridge_join_commits"),
    ("runtimes: {crun: {start_saving: -50ms}}", "hosts.h.runtimes.crun.start_saving"),
])
def test_bad_values_are_located(host: str, field: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(scenario(host))
    assert caught.value.field == field
    assert caught.value.line == 3


def test_the_defaults_are_current_dockers() -> None:
    # 1 libnetwork commit per endpoint, 1 more on a bridge network, 2 ms each; crun 50 ms faster than runc
    [host] = load_scenario_text(scenario("memory: 1GiB")).hosts
    spec = host.spec
    costs = spec.networking
    assert (costs.endpoint_commits, costs.bridge_commits, costs.store_commit.mean) == (1, 1, 0.002)
    # the sandbox's record made and deleted (1 each), 2 commits at the join and 1 at the leave, 1 more each on a
    # bridge network (moby master: NewSandbox, populateNetworkResources, sbJoin, sbLeave, ProgramExternalConnectivity)
    assert (costs.sandbox_commits, costs.join_commits, costs.leave_commits, costs.bridge_join_commits) \
        == (1, 2, 1, 1)
    assert spec.runtimes["crun"].start_saving == 0.050
    assert spec.runtimes["runc"].start_saving == 0.0
