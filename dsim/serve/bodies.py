"""Request bodies of the container endpoints as typed models: a wrong type is dockerd's 400, never state.

dockerd decodes a body into Go structs (moby api/types/container: Config, HostConfig, ...; the JSON
decoder refuses a number where a string list is due) and validates what it decoded
(daemon/container.go ``verifyContainerSettings``, ``nat.ParsePortSpecs``), so nothing malformed ever
reaches a container. The models below hold the fields dsim reads, with the types of the spec
(https://docs.docker.com/reference/api/engine/version/v1.50/); other fields are accepted and kept, as
dockerd's decoder ignores the ones it does not know. ``Cmd`` and ``Entrypoint`` are strslice.StrSlice:
a string or a list of strings.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError, field_validator

from dsim.components.errors import ApiError

_GO_TYPES = {"string_type": "string", "int_type": "int64", "bool_type": "bool", "list_type": "[]string",
             "dict_type": "map[string]string", "model_type": "struct"}
_JSON_TYPES = {str: "string", int: "number", float: "number", bool: "bool", list: "array", dict: "object",
               type(None): "null"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


StrSlice = StrictStr | list[StrictStr] | None


class PortBindingBody(_Body):
    HostIp: StrictStr = ""
    HostPort: StrictStr = ""

    @field_validator("HostPort")
    @classmethod
    def _port(cls, value: str) -> str:
        """nat.ParsePortSpec: empty (ephemeral), a port 0-65535, or a range of them."""
        if value and not (re.fullmatch(r"\d+(-\d+)?", value)
                          and all(0 <= int(part) <= 65535 for part in value.split("-"))):
            raise ValueError(f"invalid port specification: \"{value}\"")
        return value


class RestartPolicyBody(_Body):
    Name: StrictStr = ""
    MaximumRetryCount: StrictInt = Field(0, ge=0)

    @field_validator("Name")
    @classmethod
    def _known(cls, name: str) -> str:
        """moby api/types/container/hostconfig.go ``ValidateRestartPolicy``'s words (the CLI checks no name)."""
        if name not in ("", "no", "always", "unless-stopped", "on-failure"):
            raise ValueError(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
                             "'on-failure', or 'unless-stopped'")
        return name


class Resources(_Body):
    """The CPU, memory and PIDs fields of Resources (a HostConfig's, an UpdateConfig's): Go's int64 and string."""

    NanoCpus: StrictInt | None = None
    CpuShares: StrictInt | None = None
    CpuPeriod: StrictInt | None = None
    CpuQuota: StrictInt | None = None
    CpusetCpus: StrictStr | None = None
    CpusetMems: StrictStr | None = None
    CpuCount: StrictInt | None = None
    CpuPercent: StrictInt | None = None
    MemorySwap: StrictInt | None = None
    MemoryReservation: StrictInt | None = None
    PidsLimit: StrictInt | None = None


class ContainerUpdate(Resources):
    """``POST /containers/{id}/update``: the UpdateConfig (resources, and the restart policy)."""

    Memory: StrictInt | None = None
    RestartPolicy: RestartPolicyBody | None = None


class HostConfigBody(Resources):
    PortBindings: dict[StrictStr, list[PortBindingBody] | None] | None = None
    PublishAllPorts: StrictBool | None = None
    RestartPolicy: RestartPolicyBody | None = None
    AutoRemove: StrictBool | None = None
    Memory: StrictInt | None = Field(None, ge=0)
    Privileged: StrictBool | None = None
    ReadonlyRootfs: StrictBool | None = None
    NetworkMode: StrictStr | None = None
    Binds: list[StrictStr] | None = None
    ConsoleSize: list[StrictInt] | None = None

    @field_validator("PortBindings")
    @classmethod
    def _ports(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            _container_port(key)
        return value


def _container_port(key: str) -> str:
    """``80``, ``80/tcp``, ``8000-8010/udp`` (nat.ParsePort, proto tcp, udp or sctp)."""
    number, _, proto = key.partition("/")
    if not re.fullmatch(r"\d+(-\d+)?", number) or not all(0 < int(p) <= 65535 for p in number.split("-")) or (
            proto not in ("", "tcp", "udp", "sctp")):
        raise ValueError(f"invalid port specification: \"{key}\"")
    return key


class ContainerCreate(_Body):
    """``POST /containers/create``: ContainerConfig with HostConfig and NetworkingConfig."""

    Image: StrictStr = ""
    Cmd: StrSlice = None
    Entrypoint: StrSlice = None
    Env: list[StrictStr] | None = None
    Labels: dict[StrictStr, StrictStr] | None = None
    ExposedPorts: dict[StrictStr, dict[str, Any]] | None = None
    Tty: StrictBool = False
    OpenStdin: StrictBool = False
    StdinOnce: StrictBool = False
    AttachStdin: StrictBool = False
    AttachStdout: StrictBool = False
    AttachStderr: StrictBool = False
    WorkingDir: StrictStr = ""
    User: StrictStr = ""
    Hostname: StrictStr = ""
    HostConfig: HostConfigBody | None = None

    @field_validator("ExposedPorts")
    @classmethod
    def _exposed(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            _container_port(key)
        return value

    @field_validator("Env")
    @classmethod
    def _env(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not item or item.startswith("="):
                raise ValueError(f"invalid environment variable: {item}")
        return value


class ExecCreate(_Body):
    """``POST /containers/{id}/exec``."""

    Cmd: list[StrictStr] = Field(default_factory=list)
    AttachStdin: StrictBool = False
    AttachStdout: StrictBool = False
    AttachStderr: StrictBool = False
    Tty: StrictBool = False
    Env: list[StrictStr] | None = None
    WorkingDir: StrictStr = ""
    User: StrictStr = ""
    Privileged: StrictBool = False
    DetachKeys: StrictStr = ""


class ExecStart(_Body):
    """``POST /exec/{id}/start``."""

    Detach: StrictBool = False
    Tty: StrictBool = False


def parse(model: type[_Body], value: dict[str, Any], struct: str) -> Any:
    """``value`` as ``model``; a problem is dockerd's 400 (the Go decoder's words for a type, the
    validator's for a value)."""
    try:
        return model.model_validate(value)
    except ValidationError as err:
        raise ApiError(400, _message(err, value, struct)) from None


def _message(err: ValidationError, value: dict[str, Any], struct: str) -> str:
    problem = err.errors()[0]
    path = [str(part) for part in problem["loc"] if not isinstance(part, int)]
    field_path = ".".join(part for part in path if part not in _GO_TYPES and not part.startswith("function-")
                          and "[" not in part and part not in ("str", "int", "bool", "none"))
    kind = problem["type"]
    if kind == "value_error":
        return str(problem["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "greater_than_equal"):
        return f"invalid {field_path}: {problem['input']!r}: {problem['msg']}"
    given = _JSON_TYPES.get(type(problem.get("input")), "value")
    wanted = _GO_TYPES.get(kind.split(".")[0], kind.replace("_type", ""))
    return f"json: cannot unmarshal {given} into Go struct field {struct}.{field_path} of type {wanted}"
