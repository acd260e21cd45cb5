"""The root model: a whole scenario file."""

from __future__ import annotations

from pydantic import Field, field_validator

from dsim.scenarios.fields import Duration
from dsim.scenarios.model.base import Strict
from dsim.scenarios.model.builds import BuildContextSpec
from dsim.scenarios.model.hosts import HostGroup
from dsim.scenarios.model.images import Image
from dsim.scenarios.model.network import Network
from dsim.scenarios.model.registries import Registry
from dsim.scenarios.model.workloads import Workload


class Scenario(Strict):
    """A whole scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    until: Duration | None = Field(None, gt=0, description="horizon; jobs not ended by then are 'unfinished'")
    registries: dict[str, Registry] = Field(default_factory=dict)
    images: dict[str, Image] = Field(default_factory=dict)
    hosts: dict[str, HostGroup] = Field(min_length=1)
    network: Network | None = None
    contexts: dict[str, BuildContextSpec] = Field(default_factory=dict, description="build contexts")
    workloads: dict[str, Workload] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _a_name(cls, name: str) -> str:
        """A name, not a path: outputs go to results/<name>, which must stay inside results/."""
        if "/" in name or "\\" in name or ".." in name or name.startswith(".") or "\x00" in name:
            raise ValueError(f"invalid name {name!r}: a name has no '/', '\\', '..', NUL or leading '.'")
        return name
