"""Healthchecks of the API's containers: a create request's ``Healthcheck`` as the runtime's health mechanism
(components/health.py), and what the API shows of it (``State.Health``, the ``health_status`` events).

The runtime probes by moby's rules (daemon/health.go): the first probe one interval after the start
(``StartInterval`` while starting inside ``StartPeriod``), the next one an interval after each probe ends,
the first success makes the container ``healthy``, ``Retries`` failures in a row outside the start period make
it ``unhealthy``. Each probe is an exec (the host's ``runtime.probe_exec``, part of it CPU on the host's
scheduler), then the test command, read as the container's own commands are (commands.py): its exit code says
whether it passes (``CMD redis-cli ping`` is a program dsim does not know and exits 0, ``CMD-SHELL exit 1``
fails every probe), and its time (``sleep 5``) is the probe's wait, so a command that runs past ``Timeout``
is killed there (exit -1, "Health check exceeded timeout"). ``["NONE"]`` disables the image's check; an
empty ``Test`` inherits the image's (the catalog's images declare none). Defaults are moby's
(domain/health.py): interval and timeout 30 s, start interval 5 s, start period 0, retries 3; the inspect log
keeps the last 5 probes (``maxLogEntries``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.domain.containers import ContainerSpec
from dsim.domain.health import (
    DEFAULT_INTERVAL,
    DEFAULT_RETRIES,
    DEFAULT_START_INTERVAL,
    DEFAULT_START_PERIOD,
    DEFAULT_TIMEOUT,
)
from dsim.serve.commands import Context, interpret

if TYPE_CHECKING:
    from dsim.serve.engine import Engine
    from dsim.serve.views import Served

NS = 1e9
_DURATIONS = ("Interval", "Timeout", "StartPeriod", "StartInterval")


def probe_argv(test: list[str]) -> list[str] | None:
    """The probe's command line: ``CMD`` args as given, ``CMD-SHELL`` through ``/bin/sh -c``; None for
    ``NONE`` or nothing to run."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])] if len(test) > 1 else None
    if test[0] == "CMD":
        return test[1:] or None
    return None


def validate(check: dict[str, Any]) -> None:
    """moby's ``validateHealthCheck``: each duration 0 or at least 1 ms, retries not negative (400s)."""
    for key in _DURATIONS:
        value = check.get(key) or 0
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApiError(400, f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                                f"HealthConfig.Healthcheck.{key} of type time.Duration")
        if value != 0 and value < 1_000_000:
            raise ApiError(400, f"{key} in Healthcheck cannot be less than 1ms")
    retries = check.get("Retries") or 0
    if not isinstance(retries, int) or retries < 0:
        raise ApiError(400, "Retries in Healthcheck cannot be negative")
    test = check.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(word, str) for word in test):
        raise ApiError(400, "json: cannot unmarshal into Go struct field HealthConfig.Healthcheck.Test of type "
                            "[]string")


def _seconds(check: dict[str, Any], key: str, default: float) -> float:
    return float(check.get(key) or 0) / NS or default


def probe_command(check: dict[str, Any], context: Context) -> tuple[bool, float, str]:
    """What each probe's command does: whether it exits 0, how long it runs (wall seconds), what it prints."""
    argv = probe_argv(list(check.get("Test") or []))
    assert argv is not None
    program = interpret(argv, context)
    output = b"".join(write.data for write in program.output).decode(errors="replace")
    return program.exit_code == 0, program.duration, output


def probe_passes(check: dict[str, Any], context: Context) -> tuple[bool, str]:
    """Whether a probe of this check succeeds once the exec has started, and what it shows: its command exits
    0 within Timeout (else moby kills it: "Health check exceeded timeout")."""
    passes, duration, output = probe_command(check, context)
    timeout = _seconds(check, "Timeout", DEFAULT_TIMEOUT)
    if duration > timeout:
        return False, f"Health check exceeded timeout ({timeout:g}s)"
    return passes, output


def step_options(check: dict[str, Any] | None, context: Context) -> dict[str, Any] | None:
    """The scenario ``healthcheck`` of a create request's ``Healthcheck`` (None: no check)."""
    if check is None:
        return None
    if not isinstance(check, dict):
        raise ApiError(400, f"json: cannot unmarshal {type(check).__name__} into Go struct field "
                            "Config.Healthcheck of type container.HealthConfig")
    validate(check)
    if probe_argv(list(check.get("Test") or [])) is None:
        return None
    passes, _, _ = probe_command(check, context)
    return {
        "interval": f"{_seconds(check, 'Interval', DEFAULT_INTERVAL)!r}s",
        "timeout": f"{_seconds(check, 'Timeout', DEFAULT_TIMEOUT)!r}s",
        "start_period": f"{_seconds(check, 'StartPeriod', DEFAULT_START_PERIOD)!r}s",
        "start_interval": f"{_seconds(check, 'StartInterval', DEFAULT_START_INTERVAL)!r}s",
        "retries": int(check.get("Retries") or DEFAULT_RETRIES),
        "time_to_healthy": "0s" if passes else "inf",
    }


def with_command_time(spec: ContainerSpec, check: dict[str, Any] | None, context: Context) -> ContainerSpec:
    """``spec`` with its probes' command taking the test command's time (``sleep 5``: 5 s of waiting)."""
    if spec.healthcheck is None or check is None:
        return spec
    _, duration, _ = probe_command(check, context)
    if duration <= 0:
        return spec
    return dataclasses.replace(spec, healthcheck=dataclasses.replace(spec.healthcheck, probe_wait=duration))


def config_view(check: dict[str, Any] | None) -> dict[str, Any] | None:
    """``Config.Healthcheck`` as dockerd keeps it: the fields given (Go's omitempty drops zeros)."""
    if not check:
        return None
    return {key: value for key, value in check.items() if value}


def state_view(engine: Engine, served: Served) -> dict[str, Any] | None:
    """``State.Health`` (None without a check): the runtime's status, failing streak and last probes."""
    check = served.config.get("Healthcheck")
    container = served.container
    if not check or probe_argv(list(check.get("Test") or [])) is None:
        return None
    state = container.health_state
    if container.started_at is None or state is None:
        return {"Status": "starting", "FailingStreak": 0, "Log": []}
    _, _, said = probe_command(check, engine.context(served))
    log = [{"Start": engine.iso(probe.start), "End": engine.iso(probe.end), "ExitCode": probe.exit_code,
            "Output": probe.output or said} for probe in state.log]
    return {"Status": container.health_status or "starting", "FailingStreak": state.failing_streak, "Log": log}


def watch(engine: Engine, served: Served) -> None:
    """The ``health_status: healthy|unhealthy`` event of the current run, when its status is first decided."""
    check = served.config.get("Healthcheck")
    if check and probe_argv(list(check.get("Test") or [])) is not None:
        engine.env.process(_event(engine, served))


def _event(engine: Engine, served: Served) -> Generator[Any, Any, None]:
    decided = served.container.health
    if decided is None or decided.triggered:
        return
    status = yield decided
    if status in ("healthy", "unhealthy"):
        engine.container_event(served, f"health_status: {status}")

