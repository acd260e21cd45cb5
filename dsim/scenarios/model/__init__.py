"""The scenario format v1 as strict pydantic models (``extra="forbid"``, frozen).

Every default that stands for real Docker behaviour is a named field whose description says where the
number comes from (docs/real-docker.md); ``dsim schema`` prints these models as JSON Schema. One module per
part of a scenario file: registries, images, hosts, network, containers (run/create/stop/ps steps), builds,
workloads (arrivals and steps) and the root, scenario; every model is importable from here.
"""

from dsim.scenarios.model.base import Count, PositiveInt, Strict
from dsim.scenarios.model.builds import (
    BuildContextSpec,
    BuildStep,
    CacheMountRunTime,
    CacheTo,
    EditStep,
    RunTime,
)
from dsim.scenarios.model.compose import ComposeStepSpec
from dsim.scenarios.model.containers import (
    RESTART_POLICY,
    CommitStep,
    ContainerOptions,
    ContainerRef,
    CreateStep,
    ExecStep,
    HealthCheck,
    KillStep,
    LayerFileSpec,
    PsStep,
    RestartStep,
    RunStep,
    ServiceCall,
    StopStep,
)
from dsim.scenarios.model.hosts import (
    DEFAULT_DECOMPRESS,
    DEFAULT_MICROVM,
    DEFAULT_VM,
    Daemon,
    Fraction,
    HostGroup,
    ImageGc,
    Runtime,
    Storage,
    VmFlavour,
)
from dsim.scenarios.model.images import Image, Layer, LayerSpec, layer_uncompressed
from dsim.scenarios.model.network import Link, Network
from dsim.scenarios.model.objects import Mount, NetworkDef, Networking, RmOptions
from dsim.scenarios.model.overlay_mount import OverlayMount
from dsim.scenarios.model.registries import Outage, RateLimit, Registry
from dsim.scenarios.model.runtimes import RuntimeProfile
from dsim.scenarios.model.scenario import Scenario
from dsim.scenarios.model.start_path import StartCpu
from dsim.scenarios.model.workloads import (
    Arrival,
    ArrivalRate,
    Burst,
    Every,
    Poisson,
    RmiStep,
    Step,
    TagStep,
    Times,
    Workload,
)

__all__ = [
    "DEFAULT_DECOMPRESS", "DEFAULT_MICROVM", "DEFAULT_VM", "RESTART_POLICY", "Arrival", "ArrivalRate",
    "BuildContextSpec", "BuildStep", "Burst", "CacheMountRunTime", "CacheTo", "CommitStep", "ContainerOptions",
    "ContainerRef",
    "Count", "CreateStep", "Daemon", "EditStep", "Every", "ExecStep", "KillStep", "RestartStep",
    "Fraction", "HealthCheck", "HostGroup", "Image",
    "ImageGc", "Layer", "LayerSpec", "Link", "Network", "Outage", "Poisson", "PositiveInt", "PsStep", "RateLimit",
    "LayerFileSpec",
    "Registry", "RmiStep", "RunStep", "RunTime", "Runtime", "Scenario", "Step", "StopStep", "Storage", "Strict",
    "TagStep",
    "Times", "VmFlavour", "Workload", "layer_uncompressed",
    "RuntimeProfile",
    "StartCpu",
    "Mount", "NetworkDef", "Networking", "RmOptions",
    "ComposeStepSpec",
    "ServiceCall",
    "OverlayMount",
]
