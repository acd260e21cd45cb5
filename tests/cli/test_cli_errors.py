"""The command line's own errors: bad --out/-o found before any work, usage errors as one line
(``dsim: error: <problem>``, exit 2) on every command, user text printed verbatim (no rich markup, no
emoji codes), and --quiet printing nothing but errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

GOOD = textwrap.dedent("""\
    name: t
    registries:
      reg: {bandwidth: 1Gbps}
    images:
      app:1: {registry: reg, layers: [10MB]}
    hosts:
      runner: {count: 1, nic: 1Gbps}
    workloads:
      w:
        arrival: {burst: 1}
        steps:
          - pull: app:1
    """)


def scenario(tmp_path: Path, text: str = GOOD) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return path


def error_of(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, args)
    return result.exit_code, result.stderr


@pytest.fixture
def never_simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad --out must be refused before the world is built."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated although --out is bad")

    monkeypatch.setattr(sys.modules["dsim.run"], "build_world", refuse)


# -- 2. a bad --out / -o, before the simulation ---------------------------------------------------------------

def test_run_out_an_existing_file(tmp_path: Path, never_simulated: None) -> None:
    (tmp_path / "f").write_text("")
    assert error_of(["run", str(scenario(tmp_path)), "-o", str(tmp_path / "f")]) == (
        2, f"dsim: error: --out {tmp_path / 'f'}: exists and is not a folder\n")


def test_run_out_under_a_file(tmp_path: Path, never_simulated: None) -> None:
    (tmp_path / "f").write_text("")
    assert error_of(["run", str(scenario(tmp_path)), "--out", str(tmp_path / "f" / "sub")]) == (
        2, f"dsim: error: --out {tmp_path / 'f' / 'sub'}: {tmp_path / 'f'} is not a folder\n")


def test_run_out_dev_null(tmp_path: Path, never_simulated: None) -> None:
    assert error_of(["run", str(scenario(tmp_path)), "-o", "/dev/null"]) == (
        2, "dsim: error: --out /dev/null: exists and is not a folder\n")


def test_run_out_in_a_read_only_folder(tmp_path: Path, never_simulated: None, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    """A folder without write permission (root may write anywhere, so there its answer is faked)."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == locked else real(path, mode))
    assert error_of(["run", str(scenario(tmp_path)), "-o", str(locked / "out")]) == (
        2, f"dsim: error: --out {locked / 'out'}: cannot write in {locked} (permission denied or read-only)\n")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc (a folder nothing can be made in)")
@pytest.mark.parametrize("command", [["run"], ["sweep"], ["graph"]])
def test_out_where_no_folder_can_be_made_is_refused_before_any_work(tmp_path: Path, never_simulated: None,
                                                                     command: list[str]) -> None:
    """/proc passes the permission bits for root, yet nothing can be created in it: before, a run simulated and
    then failed writing (exit 1), and so did a sweep and a graph."""
    out = "/proc/dsim-out.png" if command == ["graph"] else "/proc/dsim-out"
    if command == ["sweep"]:
        path = tmp_path / "x.sweep.yaml"
        path.write_text(f"scenario: {scenario(tmp_path)}\nreplications: 2\n")
    else:
        path = scenario(tmp_path)
    assert error_of([*command, str(path), "--out", out]) == (
        2, f"dsim: error: --out {out}: cannot create anything in /proc (No such file or directory)\n")


def test_graph_out_with_a_suffix_it_cannot_draw(tmp_path: Path) -> None:
    assert error_of(["graph", str(scenario(tmp_path)), "-o", str(tmp_path / "x.jpg")]) == (
        2, f"dsim: error: --out {tmp_path / 'x.jpg'}: the file must end in .png or .svg\n")
    assert not (tmp_path / "x.jpg").exists()


def test_graph_out_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    assert error_of(["graph", str(scenario(tmp_path)), "-o", str(tmp_path / "d.png")]) == (
        2, f"dsim: error: --out {tmp_path / 'd.png'}: exists and is not a regular file\n")


def test_explain_out_under_a_file(tmp_path: Path, never_simulated: None) -> None:
    (tmp_path / "f").write_text("")
    assert error_of(["explain", str(scenario(tmp_path)), "-o", str(tmp_path / "f" / "seq.png")]) == (
        2, f"dsim: error: --out {tmp_path / 'f' / 'seq.png'}: {tmp_path / 'f'} is not a folder\n")


def test_compare_out_dev_null(tmp_path: Path) -> None:
    assert error_of(["compare", str(tmp_path), str(tmp_path), "-o", "/dev/null"]) == (
        2, "dsim: error: --out /dev/null: exists and is not a regular file\n")


def test_serve_out_an_existing_file_before_serving(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    assert error_of(["serve", "--port", "0", "-o", str(tmp_path / "f")]) == (
        2, f"dsim: error: --out {tmp_path / 'f'}: exists and is not a folder\n")


# -- 4. usage errors: one line, exit 2, on every command -------------------------------------------------------

@pytest.mark.parametrize(("args", "line"), [
    (["run", "--seed", "abc", "x.yaml"], "Invalid value for '--seed': Input should be a valid integer, unable to "
                                         "parse string as an integer (see 'dsim run --help')"),
    (["run", "--bogus"], "No such option: --bogus (Possible options: --out, --outputs) (see 'dsim run --help')"),
    (["run"], "Missing argument 'scenario' (see 'dsim run --help')"),
    (["validate"], "Missing argument 'scenario' (see 'dsim validate --help')"),
    (["schema", "--bogus"], "No such option: --bogus (see 'dsim schema --help')"),
    (["graph", "x.yaml", "-o"], "Option '-o' requires an argument"),
    (["explain", "x.yaml", "--job", "0"], "Invalid value for '--job' / '-j': Input should be greater than or equal "
                                          "to 1 (see 'dsim explain --help')"),
    (["compare"], "Missing argument 'runs' (see 'dsim compare --help')"),
    (["sweep"], "Missing argument 'scenario' (see 'dsim sweep --help')"),
    (["serve", "--port", "abc"], "Invalid value for '--port' / '-p': Input should be a valid integer, unable to "
                                 "parse string as an integer (see 'dsim serve --help')"),
    (["dockerfile", "plan"], "Missing argument 'path' (see 'dsim dockerfile plan --help')"),
    (["dockerfile", "nope"], "No such command 'nope' (see 'dsim dockerfile --help')"),
    (["nope"], "No such command 'nope' (see 'dsim --help')"),
    (["--bogus"], "No such option: --bogus (see 'dsim --help')"),
])
def test_a_usage_error_is_one_line_and_exit_2(args: list[str], line: str) -> None:
    assert error_of(args) == (2, f"dsim: error: {line}\n")


def test_a_usage_error_from_the_installed_command_is_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "dsim", "run", "--seed", "abc", "x.yaml"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("dsim: error: Invalid value for '--seed': Input should be a valid integer, unable to "
                           "parse string as an integer (see 'dsim run --help')\n")


# -- 5. user text verbatim: no markup, no emoji codes ----------------------------------------------------------

@pytest.mark.parametrize("name", ["my:smile:img", "[red]x:1"])
def test_names_in_errors_are_printed_verbatim(tmp_path: Path, name: str) -> None:
    path = scenario(tmp_path, GOOD.replace("- pull: app:1", f"- pull: '{name}'"))
    code, stderr = error_of(["validate", str(path)])
    assert code == 2
    assert stderr.startswith(f"dsim: error: {path}:12:15: workloads.w.steps[0].pull: unknown image '{name}' ")


def test_names_in_tables_are_printed_verbatim(tmp_path: Path) -> None:
    """The registries table of `dsim run` shows a registry called ``my:smile:reg`` as written."""
    text = GOOD.replace("reg: {bandwidth: 1Gbps}", "my:smile:reg: {bandwidth: 1Gbps}").replace(
        "registry: reg", "registry: 'my:smile:reg'")
    result = runner.invoke(app, ["run", str(scenario(tmp_path, text)), "-o", str(tmp_path / "out"), "--no-charts",
                                 "--no-trace"])
    assert result.exit_code == 0, result.output
    assert "my:smile:reg" in result.stdout and "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in result.stdout


def test_explain_prints_a_workload_name_verbatim(tmp_path: Path) -> None:
    text = GOOD.replace("  w:\n", "  '[bold]w:smile:':\n")
    result = runner.invoke(app, ["explain", str(scenario(tmp_path, text))])
    assert result.exit_code == 0, result.output
    assert "job 1 of workload [bold]w:smile: runs:" in result.stdout


# -- 6. --quiet prints nothing but errors ----------------------------------------------------------------------

def test_quiet_run_hides_matplotlib_warnings(tmp_path: Path) -> None:
    """A workload named in CJK has glyphs DejaVu Sans lacks: matplotlib warns while drawing the charts;
    under --quiet nothing reaches stderr (or stdout)."""
    path = scenario(tmp_path, GOOD.replace("  w:\n", "  构建:\n"))
    proc = subprocess.run([sys.executable, "-m", "dsim", "run", str(path), "-o", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_serve_on_an_address_that_does_not_resolve_is_one_line() -> None:
    """The exposure warning comes only once the address is good: before, a bad --listen printed it, then the
    error (two lines)."""
    code, err = error_of(["serve", "--listen", "999.1.1.1", "--port", "0"])
    assert code == 2 and err.count("\n") == 1 and err.startswith("dsim: error: cannot listen on 999.1.1.1:0: ")
