"""``dsim serve``: the command line of the simulated Docker Engine."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from dsim.cli.support import SetOption, err_console


def serve(
    scenario: Annotated[Path | None, typer.Option(
        "--scenario", "-s", help="scenario YAML whose host to simulate (default: one host, Docker Hub, the built-in "
        "image catalog)", show_default=False)] = None,
    host_name: Annotated[str | None, typer.Option(
        "--host-name", help="the scenario's host that answers (default: its first)", show_default=False)] = None,
    listen: Annotated[str, typer.Option(
        "--listen", help="address to listen on; anything but loopback is exposed to the network")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port (0: any free one)")] = 2375,
    unix: Annotated[Path | None, typer.Option(
        "--unix", help="listen on this Unix socket instead of TCP", show_default=False)] = None,
    speed: Annotated[float, typer.Option(
        "--speed", help="simulated seconds per wall-clock second")] = 10.0,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="write summary.json, jobs.csv, spans.csv, charts, report.html and trace.json here "
        "when the server stops",
        show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    set_: SetOption = None,
    max_context: Annotated[str, typer.Option(
        "--max-context", help="largest build context accepted, counted uncompressed")] = "256MiB",
    max_connections: Annotated[int | None, typer.Option(
        "--max-connections", min=1, help="open client connections at most; beyond, new ones wait in the listen "
        "queue (default: 1000, fewer if the file limit is lower)", show_default=False)] = None,
    max_requests: Annotated[int, typer.Option(
        "--max-requests", min=1, help="requests handled at once (a thread each); beyond, a 503")] = 256,
    client_timeout: Annotated[str, typer.Option(
        "--client-timeout", help="wall time a client has to send a request head, that an idle connection is "
        "kept, and that one read or write of a request may take")] = "60s",
    charts: Annotated[bool, typer.Option(help="with --out: write charts/*.png and report.html")] = True,
    trace: Annotated[bool, typer.Option(help="with --out: write trace.json (Perfetto / chrome://tracing)")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log every request on stderr")] = False,
) -> None:
    """Serve the Docker Engine API of a simulated host: point the docker CLI at it (DOCKER_HOST)."""
    from dsim.errors import UsageError
    from dsim.run import LINK_SAMPLE_S
    from dsim.serve.http import Limits, default_max_connections
    from dsim.serve.server import Server, main_loop, serve_scenario
    from dsim.units import parse_duration, parse_size

    try:
        context_limit = int(parse_size(max_context))
    except ValueError as err:
        raise UsageError(f"--max-context: {err}") from None
    try:
        timeout = parse_duration(client_timeout)
    except ValueError as err:
        raise UsageError(f"--client-timeout: {err}") from None
    if not 0 < timeout < float("inf"):
        raise UsageError("--client-timeout must be a positive, finite duration")
    resolved = serve_scenario(scenario, set_)
    if out is not None:  # refused now, not when the session ends
        from dsim.reports.outdir import check_out_dir

        check_out_dir(out)
    server = Server(resolved, host_name=host_name, listen=listen, port=port, unix=unix, speed=speed, seed=seed,
                    max_context=context_limit, verbose=verbose,
                    link_samples=LINK_SAMPLE_S if out is not None else None, keep_records=out is not None,
                    limits=Limits(max_connections=max_connections or default_max_connections(),
                                  max_requests=max_requests, header_timeout=timeout, io_timeout=timeout))
    if unix is None and listen not in ("127.0.0.1", "localhost", "::1"):  # once the address is known good
        from dsim.serve.server import is_loopback

        if not is_loopback(listen):
            err_console.print(f"dsim serve: warning: listening on {listen}: anyone who can reach it can drive "
                              "this simulated daemon (no TLS, no authentication)")
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"dsim serve: simulated host '{server.host}' of scenario '{resolved.name}' at {server.address} "
          f"(x{speed:g} speed)", flush=True)
    print(f"dsim serve: export DOCKER_HOST={server.address}", flush=True)
    result = main_loop(server, stop)
    if out is not None:  # the session ends through the run path's writer: the same files as `dsim run`
        from dsim.reports.context import ScenarioInfo
        from dsim.run import save_outputs

        summary = save_outputs(result, out, scenario_info=ScenarioInfo.from_resolved(resolved, scenario, set_ or ()),
                               charts=charts, trace=trace)
        print(f"dsim serve: results in {out}/", flush=True)
        failed = summary["jobs"]["failed"]
    else:  # no records kept (serve/records.py): the count of failures only
        failed = server.world.recorder.failed_jobs()
    print(f"dsim serve: {result.expected_jobs} operations ({failed} failed) in {result.horizon_s:.1f} simulated "
          f"seconds", file=sys.stderr, flush=True)

