"""The whole documents dockerd answers for a container, every field of the Engine API 1.50 spec filled.

dockerd serialises Go structs, so a client finds every field that is not ``omitempty`` (the SDK reads
``HostConfig.LogConfig.Type`` of any container it runs in the foreground). The values are those dockerd
28 gives a ``docker run`` container on Linux with the default daemon configuration (json-file logging,
bridge network, runc, cgroup v2 with a private cgroup namespace, the default masked and read-only paths
of moby's ``oci/defaults.go``), overlaid with what the request asked for. Fields are listed in the spec's
order (https://docs.docker.com/reference/api/engine/version/v1.50/).
"""

from __future__ import annotations

from typing import Any

#: moby oci/defaults.go: paths hidden from and read-only in every non-privileged container
MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def resources(given: dict[str, Any]) -> dict[str, Any]:
    """HostConfig's Resources part: limits asked for, zero (no limit) otherwise."""
    out: dict[str, Any] = {
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": [], "DeviceRequests": [],
        "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": None,
        "PidsLimit": None, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
    }
    for key in out:
        if given.get(key) is not None:
            out[key] = given[key]
    if out["Memory"] and not given.get("MemorySwap"):
        out["MemorySwap"] = 2 * out["Memory"]  # dockerd: swap defaults to the memory limit again
    return out


def host_config(given: dict[str, Any]) -> dict[str, Any]:
    """The container's HostConfig as inspect shows it."""
    restart = given.get("RestartPolicy") or {}
    out: dict[str, Any] = {
        "Binds": given.get("Binds") or None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": (given.get("LogConfig") or {}).get("Type") or "json-file",
                      "Config": (given.get("LogConfig") or {}).get("Config") or {}},
        "NetworkMode": given.get("NetworkMode") or "bridge",
        "PortBindings": given.get("PortBindings") or {},
        "RestartPolicy": {"Name": restart.get("Name") or "no",
                          "MaximumRetryCount": int(restart.get("MaximumRetryCount") or 0)},
        "AutoRemove": bool(given.get("AutoRemove")),
        "VolumeDriver": "",
        "VolumesFrom": given.get("VolumesFrom") or None,
        "ConsoleSize": given.get("ConsoleSize") or [0, 0],
        "CapAdd": given.get("CapAdd") or None,
        "CapDrop": given.get("CapDrop") or None,
        "CgroupnsMode": "private",
        "Dns": given.get("Dns") or [],
        "DnsOptions": given.get("DnsOptions") or [],
        "DnsSearch": given.get("DnsSearch") or [],
        "ExtraHosts": given.get("ExtraHosts") or None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": bool(given.get("Privileged")),
        **({"Init": bool(given["Init"])} if given.get("Init") is not None else {}),  # moby: *bool, omitempty
        "PublishAllPorts": bool(given.get("PublishAllPorts")),
        "ReadonlyRootfs": bool(given.get("ReadonlyRootfs")),
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,  # 64 MiB, dockerd's default /dev/shm
        "Runtime": "runc",
        "Isolation": "",
        **resources(given),
        "MaskedPaths": [] if given.get("Privileged") else list(MASKED_PATHS),
        "ReadonlyPaths": [] if given.get("Privileged") else list(READONLY_PATHS),
    }
    return {key: (value if value is not None or key in _NULLABLE else []) for key, value in out.items()}


#: fields dockerd shows as null when unset and the spec allows it (pointers in the Go struct)
_NULLABLE = frozenset({"MemorySwappiness", "OomKillDisable", "PidsLimit"})


def container_config(config: dict[str, Any], hostname: str, cmd: list[str], entrypoint: list[str],
                     exposed: list[str]) -> dict[str, Any]:
    """The container's Config as inspect shows it: the request's, completed from its image's at create
    (image_config.with_image_defaults)."""
    env = list(config.get("Env") or [])
    stdin = bool(config.get("OpenStdin"))
    return {
        "Hostname": config.get("Hostname") or hostname,
        "Domainname": "",
        "User": config.get("User") or "",
        "AttachStdin": bool(config.get("AttachStdin")),
        "AttachStdout": bool(config.get("AttachStdout")),
        "AttachStderr": bool(config.get("AttachStderr")),
        "ExposedPorts": {port: {} for port in exposed},
        "Tty": bool(config.get("Tty")),
        "OpenStdin": stdin,
        "StdinOnce": bool(config.get("StdinOnce")),
        "Env": env,
        "Cmd": cmd,
        "Image": config["Image"],
        "Volumes": config.get("Volumes") or {},
        "WorkingDir": config.get("WorkingDir") or "",
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": config.get("Labels") or {},
        **({"StopSignal": config["StopSignal"]} if config.get("StopSignal") else {}),  # omitempty
    }


def legacy_container_config() -> dict[str, Any]:
    """An image's ``ContainerConfig`` as dockerd still answers it to clients older than API 1.45: the config of
    the container that committed the image, empty for images built by BuildKit (and so for every image here).
    Clients of that age read it (docker-compose 1.29's recreate: ``image_config['ContainerConfig']``)."""
    return {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
            "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}


def network_settings(ports: dict[str, Any], running: bool, address: str) -> dict[str, Any]:
    """NetworkSettings: the default bridge network (172.17.0.0/16) while running."""
    gateway = "172.17.0.1" if running else ""
    bridge: dict[str, Any] = {
        "IPAMConfig": None, "Links": [], "Aliases": [], "MacAddress": "", "DriverOpts": None,
        "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": gateway,
        "IPAddress": address if running else "", "IPPrefixLen": 16 if running else 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": [],
    }
    return {"SandboxID": "", "SandboxKey": "", "Ports": ports, "Networks": {"bridge": bridge}}


def empty_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
            "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": "0001-01-01T00:00:00Z",
            "FinishedAt": "0001-01-01T00:00:00Z"}


def readable_logs(host_config: dict[str, Any]) -> bool:
    """Whether ``docker logs`` can read the container's log (moby ``ErrReadLogsNotSupported`` otherwise)."""
    return ((host_config.get("LogConfig") or {}).get("Type") or "json-file") in ("json-file", "local")
