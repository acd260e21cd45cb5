"""``dsim dockerfile plan PATH``: what BuildKit would build from a Dockerfile, without simulating anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dsim.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Inspect Dockerfiles the way dsim's builder reads them.")


@app.command("plan")
def plan(
    path: Annotated[Path, typer.Argument(help="a Dockerfile", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
    target: Annotated[str | None, typer.Option("--target", help="the stage to build (default: the last)")] = None,
    build_arg: Annotated[list[str] | None, typer.Option(
        "--build-arg", metavar="NAME=VALUE", help="a build argument (repeatable), as for docker build")] = None,
) -> None:
    """Print the build plan of PATH: stages, steps, which create layers, what each depends on."""
    from dsim.dockerfile.parse import read_file
    from dsim.dockerfile.plan import make_plan
    from dsim.dockerfile.render import plan_to_json, render_plan

    args: dict[str, str] = {}
    for item in build_arg or ():
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise UsageError(f"--build-arg {item!r}: expected NAME=VALUE")
        args[name] = value
    text = read_file(path)  # only a regular UTF-8 file of at most 1 MiB; errors name its path
    result = make_plan(text, filename=str(path), build_args=args, target=target)
    if json_output:
        sys.stdout.write(json.dumps(plan_to_json(result), indent=2) + "\n")
    else:
        typer.echo(render_plan(result), nl=False)

