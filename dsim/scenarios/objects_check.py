"""Load-time checks of networks (docs/networks-storage.md): a run or create step's ``network`` must exist on
every host its workload can be placed on, as ``docker run --network NAME`` fails there otherwise."""

from __future__ import annotations

from dsim.domain.hosts import HostInfo
from dsim.domain.networking import BUILTIN_NETWORKS
from dsim.domain.problems import ReferenceProblem
from dsim.domain.workloads import PLACEMENT_POLICIES
from dsim.scenarios.model import Scenario
from dsim.scenarios.problems import unknown


def _groups_of(placement: str, scenario: Scenario, hosts: tuple[HostInfo, ...]) -> list[str]:
    if placement in PLACEMENT_POLICIES:
        return list(scenario.hosts)
    if placement in scenario.hosts:
        return [placement]
    return [host.group for host in hosts if host.name == placement]


def check_networks(scenario: Scenario, hosts: tuple[HostInfo, ...]) -> None:
    """Every ``network:`` names bridge, host, none, container:NAME or a network of each group the workload
    can run on; else one problem at the field."""
    for name, workload in scenario.workloads.items():
        groups = _groups_of(workload.placement, scenario, hosts)
        for i, step in enumerate(workload.steps):
            options = step.run or step.create
            if options is None or options.network in BUILTIN_NETWORKS:
                continue
            network = options.network
            path = ("workloads", name, "steps", i, step.kind, "network")
            if network.startswith("container:"):
                if not network.partition(":")[2]:
                    raise ReferenceProblem(path, "container: needs a container name (container:NAME)")
                continue
            for group in groups:
                declared = scenario.hosts[group].networks
                if network not in declared:
                    known = (*BUILTIN_NETWORKS, *declared)
                    raise ReferenceProblem(path, unknown("network", network, known)
                                           + f" on host group '{group}' (declare it under hosts.{group}.networks)")
