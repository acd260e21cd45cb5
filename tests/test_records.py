"""The records' contract: every span kind is a ``SpanKind`` member, carrying its kind's attributes, and a
member behaves as its value wherever the outputs' text is made (dict keys, sets, sorting, csv, JSON)."""

from __future__ import annotations

import ast
import csv
import io
import json
import typing
from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.progress_words import WORDS, LayerStage, layer_lines, stage_of
from dsim.records import ATTRIBUTES, DETAIL_KINDS, PHASE_KINDS, SUMMARY_PHASE_KINDS, Recorder, SpanKind
from dsim.reports.jsontext import SORTED, members, string, value
from tests.helpers import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
KIND_VALUES = frozenset(kind.value for kind in SpanKind)


# ----------------------------------------------------------------------------------------- a member is its value

def test_a_member_and_its_value_are_one_key() -> None:
    """Enum hashes a member by its name; SpanKind hashes it as the str, so either finds the other."""
    assert hash(SpanKind.DOWNLOAD) == hash("download")
    assert {"download": 1}[SpanKind.DOWNLOAD] == 1
    by_kind: dict[str, int] = {SpanKind.DOWNLOAD: 1}
    assert by_kind["download"] == 1
    assert "pull_layer" in {SpanKind.PULL_LAYER} and SpanKind.PULL_LAYER in {"pull_layer"}
    assert SpanKind("cache_fill") is SpanKind.CACHE_FILL


def test_a_member_writes_as_its_value() -> None:
    kind = SpanKind.BUILD_STEP
    assert (str(kind), f"{kind}", f"{kind:>12}", repr(str(kind))) == ("build_step", "build_step", "  build_step",
                                                                   "'build_step'")
    assert json.dumps({kind: [kind]}) == '{"build_step": ["build_step"]}'
    assert json.dumps({kind: 1}, indent=2, sort_keys=True) == json.dumps({"build_step": 1}, indent=2, sort_keys=True)
    assert (string(kind), value(kind, SORTED), members({"k": kind}, SORTED)) == ('"build_step"', '"build_step"',
                                                                                '"k":"build_step"')
    out = io.StringIO()
    csv.writer(out).writerow([kind, "x"])
    assert out.getvalue() == "build_step,x\r\n"
    assert kind.lower() == "build_step" and kind + "s" == "build_steps"


def test_members_sort_as_their_values() -> None:
    kinds = list(SpanKind)
    assert [k.value for k in sorted(kinds)] == sorted(k.value for k in kinds)
    assert sorted([SpanKind.UNPACK, "api", SpanKind.DOWNLOAD]) == ["api", "download", "unpack"]


def test_every_kind_has_its_attributes_and_groupings_are_kinds() -> None:
    assert set(ATTRIBUTES) == set(SpanKind)
    assert all(isinstance(kind, SpanKind) for kind in (*PHASE_KINDS, *DETAIL_KINDS, *SUMMARY_PHASE_KINDS))
    assert all(member.name == member.value.upper() for member in SpanKind)


def test_the_recorder_keeps_the_member() -> None:
    recorder = Recorder()
    recorder.span(SpanKind.API, "create", 1.0, 1.5, host="h", job=3, queue=0.25)
    recorder.span(SpanKind.RUNC, "c", 2.0, 2.0, host="h")
    [api, runc] = recorder.spans
    assert api.kind is SpanKind.API and api.attrs == {"queue": 0.25} and api.duration == 0.5
    assert runc.attrs == {} and runc.job == -1


# ----------------------------------------------------------------------------------------- every scenario's spans

def _keys(kind: SpanKind) -> tuple[set[str], set[str]]:
    """(required, allowed) attribute names of a kind, from its TypedDict."""
    attrs = ATTRIBUTES[kind]
    return set(attrs.__required_keys__), set(typing.get_type_hints(attrs))  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_span_of_every_scenario_is_a_declared_kind(path: Path) -> None:
    result = simulate(load_scenario(path))
    assert result.spans
    for span in result.spans:
        assert type(span.kind) is SpanKind, span
        required, allowed = _keys(span.kind)
        assert required <= set(span.attrs) <= allowed, (span.kind, sorted(span.attrs))


# ----------------------------------------------------------------------------------------- no kind as a string

def _literal_kind(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _kind_problems(tree: ast.AST) -> list[str]:
    """Span calls whose kind is not a SpanKind member, and kinds compared or looked up as strings."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            if node.func.attr in ("span", "_phase", "spans_of") and _literal_kind(first):
                problems.append(f"line {node.lineno}: {node.func.attr}({ast.unparse(first)})")
            if node.func.attr in ("span", "_phase") and isinstance(first, ast.Attribute):
                named = isinstance(first.value, ast.Name) and first.value.id == "SpanKind"
                if not named or first.attr not in SpanKind.__members__:
                    problems.append(f"line {node.lineno}: {node.func.attr}({ast.unparse(first)})")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            about_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind" or isinstance(s, ast.Name)
                             and s.id == "kind" for s in sides)
            constants = [c.value for s in sides for c in ([s] if isinstance(s, ast.Constant) else
                         s.elts if isinstance(s, (ast.Tuple, ast.List, ast.Set)) else [])
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            if about_kind and KIND_VALUES.intersection(constants):
                problems.append(f"line {node.lineno}: {ast.unparse(node)}")
    return problems


@pytest.mark.parametrize("path", sorted((ROOT / "dsim").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_span_kind_is_written_as_a_string(path: Path) -> None:
    assert _kind_problems(ast.parse(path.read_text())) == []


def test_the_kind_check_sees_string_kinds() -> None:
    code = """
recorder.span("download", d, 0, 1)
self._phase("pull", ref, began)
result.spans_of("api")
if span.kind == "unpack" or kind in ("request", "cli"): pass
recorder.span(SpanKind.NOT_A_KIND, d, 0, 1)
"""
    assert len(_kind_problems(ast.parse(code))) == 6
    fine = "recorder.span(SpanKind.DOWNLOAD, d, 0, 1)\nif dist.kind == 'const': pass\nrecorder.span(kind, s, 0, 1)"
    assert _kind_problems(ast.parse(fine)) == []


# ----------------------------------------------------------------------------------------- docker's progress words

def test_a_layer_that_waited_for_a_slot_says_so_then_downloads() -> None:
    """Listed at 0, a slot at 4, the blob in at 6, unpacked from 6: docker's seven lines in order."""
    assert layer_lines(0.0, 6.5, fetch_began=4.0, fetch_ended=6.0, extract_began=6.0) == [
        (0.0, "Pulling fs layer"), (0.0, "Waiting"), (4.0, "Downloading"), (6.0, "Verifying Checksum"),
        (6.0, "Download complete"), (6.0, "Extracting"), (6.5, "Pull complete")]


def test_retries_show_between_downloading_and_the_checksum() -> None:
    lines = layer_lines(1.0, 30.0, fetch_began=1.0, fetch_ended=20.0, extract_began=20.0,
                        notes=[(0.5, "Retrying in 5 seconds"), (3.0, "Retrying in 5 seconds")])
    assert [word for _, word in lines] == ["Pulling fs layer", "Downloading", "Retrying in 5 seconds",
                                           "Verifying Checksum", "Download complete", "Extracting", "Pull complete"]


def test_a_lazy_layer_has_no_checksum_step_and_a_present_blob_no_download() -> None:
    assert [w for _, w in layer_lines(0.0, 2.0, fetch_began=0.0, extract_began=1.0)] == [
        "Pulling fs layer", "Downloading", "Extracting", "Pull complete"]
    assert [w for _, w in layer_lines(0.0, 2.0, extract_began=1.0)] == ["Pulling fs layer", "Extracting",
                                                                        "Pull complete"]


def _stage(*, unpacked: bool = False, unpacking: bool = False, blob_present: bool = False, downloading: bool = False,
           download_began: float | None = None) -> LayerStage:
    return stage_of(unpacked=unpacked, unpacking=unpacking, blob_present=blob_present, downloading=downloading,
                    download_began=download_began)


def test_a_layers_stage_from_the_daemons_state() -> None:
    assert _stage() is LayerStage.PULLING
    assert _stage(downloading=True) is LayerStage.WAITING  # no slot yet
    assert _stage(downloading=True, download_began=2.0) is LayerStage.DOWNLOADING
    assert _stage(blob_present=True) is LayerStage.DOWNLOADED
    assert _stage(blob_present=True, unpacking=True) is LayerStage.EXTRACTING
    assert _stage(blob_present=True, unpacked=True) is LayerStage.COMPLETE
    assert [stage.word for stage in LayerStage] == list(WORDS)
