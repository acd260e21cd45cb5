"""README's two commands work as documented, CI runs the test command verbatim, and the command table lists
every command and option the CLI has."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys

from tests.helpers import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick)


def test_readme_has_install_and_test_commands() -> None:
    install, test = readme_commands()
    assert "dsim run scenarios/ci-burst.yaml" in install
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci


def cli_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("<!-- section: cli -->", 1)[1].split("<!-- /section: cli -->", 1)[0]


@functools.cache
def help_boxes(*command: str) -> dict[str, list[str]]:
    """The rows of each box ("Options", "Commands", ...) of ``dsim COMMAND --help``, box characters removed."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "dsim", *command, "--help"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout
    boxes: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        title = re.match(r"\s*╭─ (\w+) ", line)
        if title:
            current = boxes.setdefault(title.group(1), [])
        elif line.lstrip().startswith("╰"):
            current = None
        elif current is not None and re.match(r"\s*│ \S", line):  # a row's first line, not a wrapped one
            current.append(line.strip().strip("│").strip())
    return boxes


def commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for row in help_boxes()["Commands"]:
        name = row.split()[0]
        subcommands = help_boxes(name).get("Commands", [])
        found += [(name, sub.split()[0]) for sub in subcommands] if subcommands else [(name,)]
    return found


def test_the_command_table_names_every_command_and_option() -> None:
    """README's command table is complete: a row for every command ``dsim --help`` lists, naming every option
    of that command with its short form (``--out/-o``); ``--charts``-style defaults are named by their
    ``--no-`` forms in the row and in the note under the table."""
    section = cli_section()
    listed = commands()
    assert ("run",) in listed and ("dockerfile", "plan") in listed
    for command in listed:
        rows = [line for line in section.splitlines() if line.startswith(f"| `dsim {' '.join(command)} ")]
        assert len(rows) == 1, command
        for row in help_boxes(*command)["Options"]:
            names = re.match(r"((?:-{1,2}[\w-]+\s+)+)", row + " ")
            assert names, row
            longs = [name for name in names.group(1).split() if name.startswith("--") and name != "--help"]
            shorts = [name for name in names.group(1).split() if not name.startswith("--")]
            if len(longs) == 2 and longs[1] == f"--no-{longs[0][2:]}":  # --charts/--no-charts: the default
                assert f"`{longs[0]}`" in section and longs[1] in rows[0], (command, longs)
                continue
            for long in longs:
                assert long in rows[0], (command, long)
            for short in shorts:
                assert f"{longs[0]}/{short}" in rows[0], (command, longs[0], short)


def example_commands() -> list[str]:
    """The `dsim ...` lines of the README's command examples and of its teaching map, in order."""
    text = (ROOT / "README.md").read_text()
    lines = [line.split("  #", 1)[0].strip() for block in re.findall(r"```sh\n(.+?)\n```", cli_section(), re.S)
             for line in block.splitlines()]
    teaching = text.split("## Teaching map", 1)[1].split("\n## ", 1)[0]
    lines += re.findall(r"\| `(dsim [^`]+)` \|", teaching)
    return [line for line in lines if line.startswith("dsim ") and not line.startswith("dsim serve")]


def test_every_example_command_runs_as_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each example runs, in order, from a folder laid out like a fresh clone (scenarios/ beside it), so
    `dsim compare results/ci-burst results/warm-cache` finds the runs the lines before it made. A pipe's
    right side (`| jq ...`) is left out: jq is not dsim's to install."""
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    commands = example_commands()
    assert any("compare" in c for c in commands) and any("explain" in c for c in commands)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    for command in commands:
        argv = command.split("|", 1)[0].strip().replace("dsim ", f"{sys.executable} -m dsim ", 1)
        done = subprocess.run(["bash", "-c", argv + " > /dev/null"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
