"""YAML loading with positions, and pydantic errors as one line naming file:line:column and the field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from dsim.errors import ScenarioError
from dsim.scenarios.validation_errors import validation_error
from dsim.scenarios.yaml_load import MAX_FILE_BYTES, load_yaml, load_yaml_file
from dsim.scenarios.yaml_positions import Positions, field_path

F = "scenarios/x.yaml"


def error_of(text: str | bytes) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_yaml(text, filename=F)
    message = str(info.value)
    assert "\n" not in message
    return info.value


# ------------------------------------------------------------------------------------------ loading


def test_plain_data_and_positions() -> None:
    text = (
        "name: demo\n"            # line 1
        "hosts:\n"                # line 2
        "  runner:\n"             # line 3
        "    nic: 1Gbps\n"        # line 4: value at column 10
        "    disks: [a, 'b']\n"   # line 5: list at 12, a at 13, 'b' at 16
        "workloads: {ci: {steps: [{pull: app}]}}\n"  # line 6
    )
    data, pos = load_yaml(text, filename=F)
    assert data == {
        "name": "demo",
        "hosts": {"runner": {"nic": "1Gbps", "disks": ["a", "b"]}},
        "workloads": {"ci": {"steps": [{"pull": "app"}]}},
    }
    assert pos.locate(()) == (1, 1)
    assert pos.locate(("name",)) == (1, 7)
    assert pos.locate_key(("name",)) == (1, 1)
    assert pos.locate(("hosts", "runner")) == (4, 5)  # a block mapping starts at its first key
    assert pos.locate_key(("hosts", "runner")) == (3, 3)
    assert pos.locate(("hosts", "runner", "nic")) == (4, 10)
    assert pos.locate_key(("hosts", "runner", "nic")) == (4, 5)
    assert pos.locate(("hosts", "runner", "disks")) == (5, 12)
    assert pos.locate(("hosts", "runner", "disks", 0)) == (5, 13)
    assert pos.locate(("hosts", "runner", "disks", 1)) == (5, 16)
    # `workloads: {ci: {steps: [{pull: app}]}}`
    assert pos.locate(("workloads", "ci", "steps", 0, "pull")) == (6, 33)
    assert pos.locate_key(("workloads", "ci", "steps", 0, "pull")) == (6, 27)
    assert pos.locate_key(("workloads", "ci", "steps", 0)) == (6, 26)  # a list item has no key: its value


def test_absent_path_falls_back_to_nearest_present_ancestor() -> None:
    _, pos = load_yaml("hosts:\n  runner:\n    cpus: 4\n", filename=F)
    assert pos.locate(("hosts", "runner", "nic")) == (3, 5)
    assert pos.locate(("hosts", "runner", "nic", "deeper", 3)) == (3, 5)
    assert pos.locate(("nope",)) == (1, 1)
    assert pos.locate_key(("hosts", "runner", "nic")) == (3, 5)
    assert ("hosts", "runner") in pos and ("hosts", "nope") not in pos
    assert Positions().locate(("a",)) is None


def test_yaml_11_scalars_as_safe_loader_resolves_them() -> None:
    text = """\
ints: [12, -3, 0x1f, 017, 1_000, 1:30]
floats: [1.5, 1.0e+3, .inf, -.Inf]
bools: [yes, No, on, off, true, FALSE]
nulls: [~, null, ]
strings: [1h30m, 80MB, 30s, 1e3, 1.0e3, 1Gbps, '12', 8080:80, 0o17]
timestamp: 2024-01-02T03:04:05Z
date: 2024-01-02
empty:
"""
    data, _ = load_yaml(text, filename=F)
    assert data["ints"] == [12, -3, 31, 15, 1000, 90]
    assert data["floats"] == [1.5, 1000.0, float("inf"), float("-inf")]
    assert data["bools"] == [True, False, True, False, True, False]
    assert data["nulls"] == [None, None]
    assert data["strings"] == ["1h30m", "80MB", "30s", "1e3", "1.0e3", "1Gbps", "12", "8080:80", "0o17"]
    assert data["timestamp"] == "2024-01-02T03:04:05Z"
    assert data["date"] == "2024-01-02"
    assert data["empty"] is None
    assert type(data["ints"][0]) is int and type(data["bools"][0]) is bool


def test_explicit_standard_tags() -> None:
    data, _ = load_yaml("a: !!str 12\nb: !!int '7'\nc: !!float '2'\nd: !!null x\n", filename=F)
    assert data == {"a": "12", "b": 7, "c": 2.0, "d": None}
    assert str(error_of("a: !!int twelve\n")) == (
        f"{F}:1:4: invalid value 'twelve' for '!!int' (expected an integer)"
    )
    assert str(error_of("a: !!str {b: 1}\n")) == f"{F}:1:4: the YAML tag '!!str' cannot be used on a mapping"


def test_keys_are_the_text_written() -> None:
    data, pos = load_yaml("8080: a\non: b\nnull: c\n1.5: d\n'x': e\n", filename=F)
    assert data == {"8080": "a", "on": "b", "null": "c", "1.5": "d", "x": "e"}
    assert pos.locate_key(("on",)) == (2, 1)
    assert pos.locate(("on",)) == (2, 5)


def test_python_tag_is_refused_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"name: t\ncmd: !!python/object/apply:os.system ['touch {marker}']\n"
    err = error_of(text)
    assert str(err) == f"{F}:2:6: unsupported YAML tag '!!python/object/apply:os.system'"
    assert (err.line, err.column) == (2, 6)
    assert not marker.exists()
    err = error_of("a: !!python/name:os.system\n")
    assert str(err) == f"{F}:1:4: unsupported YAML tag '!!python/name:os.system'"


@pytest.mark.parametrize(
    ("text", "where", "tag"),
    [
        ("a: !custom x\n", "1:4", "!custom"),
        ("a:\n  b: !!binary aGk=\n", "2:6", "!!binary"),
        ("a: !!set {x, y}\n", "1:4", "!!set"),
        ("a: !!omap [x: 1]\n", "1:4", "!!omap"),
        ("!thing a: 1\n", "1:1", "!thing"),
    ],
)
def test_other_tags_are_refused(text: str, where: str, tag: str) -> None:
    assert str(error_of(text)) == f"{F}:{where}: unsupported YAML tag '{tag}'"


def test_syntax_error_has_yaml_line_column_and_problem() -> None:
    err = error_of("name: t\nhosts: a: b\n")
    assert str(err) == f"{F}:2:9: invalid YAML: mapping values are not allowed here"
    err = error_of("name: t\nlist: [a, b\nother: 1\n")
    assert str(err) == (
        f"{F}:3:6: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 2, column 7)"
    )
    err = error_of("a:\n\tb: 1\n")
    assert (err.line, err.column) == (2, 1) and "tabs" in err.message
    err = error_of("a: 'unterminated\n")
    assert err.line == 2 and "quoted scalar" in err.message


def test_syntax_error_counts_crlf_lines() -> None:
    err = error_of("a: 1\r\nb: 2\r\nc: d: e\r\n")
    assert (err.line, err.column) == (3, 5)


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# only a comment\n", "# one\n\n   # two\n", "---\n", "~\n", b""]
)
def test_empty_scenario(text: str | bytes) -> None:
    assert str(error_of(text)) == f"{F}: the scenario is empty"


@pytest.mark.parametrize(
    ("text", "where"), [("- a\n- b\n", "1:1"), ("# c\nhello\n", "2:1"), ("[1, 2]", "1:1")]
)
def test_top_level_must_be_a_mapping(text: str, where: str) -> None:
    assert str(error_of(text)) == (
        f"{F}:{where}: the top level must be a mapping of sections "
        "(name, registries, images, hosts, workloads, ...)"
    )


@pytest.mark.parametrize(("content", "where"), [
    # PNG's signature: 0x89 at the very start is no UTF-8 lead byte
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "1:1: not a text file (binary content): byte 0x89 is not UTF-8"),
    # after 'name: ' (6 characters) on line 1
    (b"name: \xff\xfe\n", "1:7: not a text file (binary content): byte 0xff is not UTF-8"),
    # a NUL on line 3, after 'é' (one character, two bytes) on line 2: columns count characters
    ("name: x\né: 1\n  \x00\n", "3:3: not a text file (binary content): a NUL byte"),
    ("name: x\né: 1\n  \x00\n".encode(), "3:3: not a text file (binary content): a NUL byte"),
    # the first problem wins: a NUL before bytes that are not UTF-8
    (b"a: \x00\xff\n", "1:4: not a text file (binary content): a NUL byte"),
])
def test_binary_content(content: str | bytes, where: str) -> None:
    assert str(error_of(content)) == f"{F}:{where}"


def test_utf8_bytes_and_bom_are_text() -> None:
    data, pos = load_yaml("\ufeffname: café\n".encode(), filename=F)
    assert data == {"name": "café"}
    assert pos.locate(("name",)) == (1, 7)


def test_control_character_is_reported_where_it_is() -> None:
    err = error_of("a: 1\nb: x\x07y\n")
    assert (err.line, err.column) == (2, 5)
    assert "'\\x07'" in err.message


def test_duplicate_key_is_an_error_at_the_second_key() -> None:
    text = (
        "name: t\n"
        "registries:\n"
        "  hub: {bandwidth: 1Gbps}\n"   # line 3
        "  mirror: {}\n"
        "  hub: {bandwidth: 2Gbps}\n"   # line 5
    )
    assert str(error_of(text)) == f"{F}:5:3: duplicate key 'hub' (first at line 3)"
    # quoted or plain, a key is its text
    assert str(error_of("a: 1\n'a': 2\n")) == f"{F}:2:1: duplicate key 'a' (first at line 1)"
    assert str(error_of("x: {b: 1, c: 2, b: 3}\n")) == f"{F}:1:17: duplicate key 'b' (first at line 1)"


def test_complex_key_is_refused() -> None:
    assert str(error_of("? [a, b]\n: 1\n")) == f"{F}:1:3: a mapping key must be a plain value, not a list"


def test_more_than_one_document() -> None:
    err = error_of("a: 1\n---\nb: 2\n")
    assert (err.line, err.column) == (2, 1) and "single YAML document" in err.message


def test_aliases_copy_values_and_keep_both_positions() -> None:
    text = (
        "defaults: &d {nic: 1Gbps, cpus: 4}\n"  # line 1: mapping at 15, nic value at 20
        "hosts:\n"
        "  a: *d\n"                             # line 3: alias at 6
        "  b:\n"
        "    <<: *d\n"                          # line 5
        "    cpus: 8\n"                         # line 6: value at 11
    )
    data, pos = load_yaml(text, filename=F)
    assert data["hosts"] == {"a": {"nic": "1Gbps", "cpus": 4}, "b": {"nic": "1Gbps", "cpus": 8}}
    assert data["hosts"]["a"] is not data["defaults"]
    assert pos.locate(("hosts", "a")) == (3, 6)  # where the alias is written
    assert pos.locate(("hosts", "a", "nic")) == (1, 20)  # inside it: where the anchored value is
    assert pos.locate(("hosts", "b", "nic")) == (1, 20)  # merged from the anchor
    assert pos.locate(("hosts", "b", "cpus")) == (6, 11)  # written here, wins over the merged one
    assert list(data["hosts"]["b"]) == ["nic", "cpus"]


def test_merge_of_a_list_of_mappings_first_wins() -> None:
    data, _ = load_yaml("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], z: 3}\n", filename=F)
    assert data["c"] == {"x": 1, "y": 1, "z": 3}
    assert str(error_of("c:\n  <<: 5\n")) == (
        f"{F}:2:7: the value of the merge key '<<' must be a mapping or a list of mappings"
    )


def test_undefined_and_recursive_aliases() -> None:
    assert str(error_of("a: *nope\n")) == f"{F}:1:4: invalid YAML: found undefined alias 'nope'"
    recursive = "recursive alias (a value cannot contain itself)"
    assert str(error_of("a: &a [1, *a]\n")) == f"{F}:1:11: {recursive}"
    assert str(error_of("a: &a {b: {c: *a}}\n")) == f"{F}:1:15: {recursive}"
    assert "recursive alias" in str(error_of("a: &a {<<: *a}\n"))


def test_billion_laughs_is_refused() -> None:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    err = error_of("\n".join(lines) + "\n")
    assert "more than 1,000,000 values" in err.message and "aliases" in err.message
    assert err.line is not None and 6 <= err.line <= 9  # at an alias, where the expansion passes the limit


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    err = error_of("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert err.line == 1 and "nested too deeply" in err.message
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 150))
    assert "nested too deeply" in error_of(chain).message


def test_too_large_text_is_refused() -> None:
    text = "a: " + "x" * (MAX_FILE_BYTES + 1)
    assert "too large" in error_of(text).message
    assert "too large" in error_of(text.encode()).message


# -------------------------------------------------------------------------------------------- files


def test_load_file_uses_display_name(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nhosts: {a: {nic: 1Gbps}}\n")
    data, pos = load_yaml_file(path, display_name="s.yaml")
    assert data == {"name": "t", "hosts": {"a": {"nic": "1Gbps"}}}
    assert pos.locate(("hosts", "a", "nic")) == (2, 18)
    path.write_text("name: t\nname: u\n")
    with pytest.raises(ScenarioError, match=r"^s\.yaml:2:1: duplicate key 'name'"):
        load_yaml_file(path, display_name="s.yaml")
    with pytest.raises(ScenarioError, match=r"s\.yaml:2:1: "):
        load_yaml_file(path)  # default display name: the path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_yaml_file(tmp_path / "nope.yaml", display_name="nope.yaml")
    assert str(info.value) == "nope.yaml: no such file"
    assert info.value.file == "nope.yaml" and info.value.line is None
    with pytest.raises(ScenarioError, match="no such file"):
        load_yaml_file(tmp_path / "nope" / "deeper.yaml")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_yaml_file(tmp_path, display_name="dir")
    assert str(info.value) == "dir: is a directory, not a YAML file"


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    # ELF's 0x7f 'ELF' 0x02 0x01 0x01 is UTF-8 (all below 0x80): the first NUL is the 8th byte
    with pytest.raises(ScenarioError, match=r"^x\.yaml:1:8: not a text file \(binary content\): a NUL byte$"):
        load_yaml_file(path, display_name="x.yaml")


def test_file_over_10_mib_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:  # sparse: cheap to make
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ScenarioError) as info:
        load_yaml_file(path, display_name="big.yaml")
    assert info.value.message == "the file is too large (10.0 MiB; the limit is 10 MiB)"


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    with pytest.raises(ScenarioError, match="permission denied"):
        load_yaml_file(path)


# ------------------------------------------------------------------------------- validation errors


def _rate(value: object) -> float:
    if isinstance(value, str) and value.endswith("Gbps") and value[:-4].isdigit():
        return int(value[:-4]) * 1e9 / 8
    raise ValueError(f"invalid rate {value!r} (expected e.g. 1Gbps, 125MB/s)")


Rate = Annotated[float, BeforeValidator(_rate)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Host(Strict):
    nic: Rate
    cpus: int = 1
    disks: list[str] = []


class Pull(Strict):
    pull: str


class Run(Strict):
    run: str
    cpus: float = 1.0


class Burst(Strict):
    burst: int


class Every(Strict):
    every: str
    count: int = 1


class Copy(Strict):
    kind: Literal["copy"]
    src: str


class Delete(Strict):
    kind: Literal["delete"]
    path: str


class Workload(Strict):
    steps: list[Pull | Run] = []
    arrival: Burst | Every | None = None
    jobs: list[Annotated[Copy | Delete, Field(discriminator="kind")]] = []


class Image(Strict):
    base: str | None = Field(None, alias="from")
    layers: list[str] = []


class Scenario(Strict):
    name: str
    hosts: dict[str, Host] = {}
    images: dict[str, Image] = {}
    workloads: dict[str, Workload] = {}
    ports: dict[int, str] = {}


GOOD = """\
name: demo
hosts:
  runner:
    nic: 1Gbps
    cpus: 4
images:
  app: {from: base, layers: [a]}
workloads:
  ci:
    arrival: {burst: 2}
    steps:
      - pull: app
      - run: app
"""


def invalid(text: str, model: type[BaseModel] | None = Scenario) -> str:
    """The one-line message for a scenario failing validation."""
    data, positions = load_yaml(text, filename=F)
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    err = validation_error(info.value, positions, filename=F, model=model)
    assert isinstance(err, ScenarioError) and "\n" not in str(err)
    return str(err)


def test_good_scenario_is_valid() -> None:
    data, _ = load_yaml(GOOD, filename=F)
    scenario = Scenario.model_validate(data)
    assert scenario.hosts["runner"].nic == 125e6 and scenario.images["app"].base == "base"


def test_validator_message_without_value_error_prefix() -> None:
    assert invalid(GOOD.replace("nic: 1Gbps", "nic: 1 Gbit")) == (
        f"{F}:4:10: hosts.runner.nic: invalid rate '1 Gbit' (expected e.g. 1Gbps, 125MB/s)"
    )


def test_unknown_key_did_you_mean_at_the_key() -> None:
    assert invalid(GOOD.replace("    cpus: 4", "    cpuz: 4")) == (
        f"{F}:5:5: hosts.runner: unknown key 'cpuz' (did you mean 'cpus'?)"
    )
    assert invalid("nmae: x\n" + GOOD) == f"{F}:1:1: unknown key 'nmae' (did you mean 'name'?)"


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    assert invalid(GOOD.replace("    cpus: 4", "    zzz: 4")) == (
        f"{F}:5:5: hosts.runner: unknown key 'zzz' (allowed keys: nic, cpus, disks)"
    )


def test_unknown_key_suggests_the_alias() -> None:
    assert invalid(GOOD.replace("{from: base,", "{frm: base,")) == (
        f"{F}:7:9: images.app: unknown key 'frm' (did you mean 'from'?)"
    )


def test_misspelled_required_field_reports_the_typo_not_the_missing_field() -> None:
    # pydantic lists "nic: Field required" first; the unknown key next to it says what was meant
    assert invalid(GOOD.replace("nic: 1Gbps", "nci: 1Gbps")) == (
        f"{F}:4:5: hosts.runner: unknown key 'nci' (did you mean 'nic'?)"
    )


def test_missing_required_field_at_the_parent() -> None:
    assert invalid(GOOD.replace("    nic: 1Gbps\n", "")) == (
        f"{F}:4:5: hosts.runner: missing required field 'nic'"
    )
    assert invalid(GOOD.replace("name: demo\n", "")) == f"{F}:1:1: missing required field 'name'"


def test_type_error_shows_the_value_written() -> None:
    assert invalid(GOOD.replace("cpus: 4", "cpus: four")) == (
        f"{F}:5:11: hosts.runner.cpus: expected an integer, got 'four'"
    )
    assert invalid(GOOD.replace("name: demo", "name: [a, b]")) == (
        f"{F}:1:7: name: expected a string, got a list"
    )
    assert invalid(GOOD.replace("  runner:\n    nic: 1Gbps\n    cpus: 4\n", "  runner:\n")) == (
        f"{F}:3:10: hosts.runner: expected a mapping, got an empty value"
    )


def test_list_index_in_path() -> None:
    assert invalid(GOOD.replace("- run: app", "- run: app\n        cpus: lots")) == (
        f"{F}:14:15: workloads.ci.steps[1].cpus: expected a number, got 'lots'"
    )
    assert invalid(GOOD.replace("layers: [a]", "layers: [a, 7]")) == (
        f"{F}:7:33: images.app.layers[1]: expected a string, got 7"
    )


def test_union_member_tags_are_dropped_and_the_likely_member_chosen() -> None:
    # pydantic reports one error per member of `Pull | Run` and of `Burst | Every`, under their class names
    assert invalid(GOOD.replace("- pull: app", "- pul: app")) == (
        f"{F}:12:9: workloads.ci.steps[0]: unknown key 'pul' (did you mean 'pull'?)"
    )
    assert invalid(GOOD.replace("{burst: 2}", "{burst: two}")) == (
        f"{F}:10:22: workloads.ci.arrival.burst: expected an integer, got 'two'"
    )
    assert invalid(GOOD.replace("{burst: 2}", "{every: 1s, count: x}")) == (
        f"{F}:10:33: workloads.ci.arrival.count: expected an integer, got 'x'"
    )
    assert invalid(GOOD.replace("{burst: 2}", "{brust: 2}")) == (
        f"{F}:10:15: workloads.ci.arrival: unknown key 'brust' (did you mean 'burst'?)"
    )
    assert invalid(GOOD.replace("{burst: 2}", "5")) == (
        f"{F}:10:14: workloads.ci.arrival: expected a mapping, got 5"
    )


def test_discriminated_union() -> None:
    jobs = "    jobs:\n      - kind: copy\n        src: a\n"  # lines 14-16
    assert invalid(GOOD + jobs.replace("kind: copy", "kind: cpoy")) == (
        f"{F}:15:15: workloads.ci.jobs[0].kind: invalid kind 'cpoy' (did you mean 'copy'?)"
    )
    assert invalid(GOOD + jobs.replace("kind: copy", "kind: delete")) == (
        f"{F}:15:9: workloads.ci.jobs[0]: missing required field 'path'"  # pydantic's first error
    )
    assert invalid(GOOD + jobs.replace("kind: copy", "kind: delete\n        path: b")) == (
        f"{F}:17:9: workloads.ci.jobs[0]: unknown key 'src' (allowed keys: kind, path)"
    )
    assert invalid(GOOD + jobs.replace("src: a", "src: [a]")) == (
        f"{F}:16:14: workloads.ci.jobs[0].src: expected a string, got a list"
    )
    assert invalid(GOOD + jobs.replace("- kind: copy\n       ", "-")) == (
        f"{F}:15:9: workloads.ci.jobs[0]: missing required field 'kind'"
    )


def test_dict_key_error_is_at_the_key() -> None:
    assert invalid(GOOD + "ports:\n  80: web\n  http: api\n") == (
        f"{F}:16:3: ports.http: invalid key: expected an integer, got 'http'"
    )


def test_first_error_in_pydantic_order() -> None:
    text = GOOD.replace("nic: 1Gbps", "nic: 1 Gbit").replace("cpus: 4", "cpus: four")
    assert invalid(text) == (
        f"{F}:4:10: hosts.runner.nic: invalid rate '1 Gbit' (expected e.g. 1Gbps, 125MB/s)"
    )


def test_errors_through_aliases() -> None:
    # line 2: `x: &bad {nic: 1Gb}`; line 7: `  other: *bad` (`x:` is unknown too, reported after the hosts)
    text = GOOD.replace("cpus: 4", "cpus: 4\n  other: *bad")
    text = text.replace("name: demo", "name: demo\nx: &bad {nic: 1Gb}")
    # inside an aliased value: where the anchored original is written
    assert invalid(text) == f"{F}:2:15: hosts.other.nic: invalid rate '1Gb' (expected e.g. 1Gbps, 125MB/s)"
    # the aliased value itself: where the alias is written
    text = GOOD.replace("cpus: 4", "cpus: 4\n  other: *five").replace("name: demo", "name: demo\nx: &five 5")
    assert invalid(text) == f"{F}:7:10: hosts.other: expected a mapping, got 5"


def test_without_the_model_messages_are_plainer_but_placed() -> None:
    assert invalid(GOOD.replace("    cpus: 4", "    cpuz: 4"), model=None) == (
        f"{F}:5:5: hosts.runner: unknown key 'cpuz'"
    )
    assert invalid(GOOD.replace("- pull: app", "- pull: [app]"), model=None) == (
        f"{F}:12:15: workloads.ci.steps[0].pull: expected a string, got a list"
    )


def test_validation_error_fields() -> None:
    data, positions = load_yaml(GOOD.replace("cpus: 4", "cpus: four"), filename=F)
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    err = validation_error(info.value, positions, filename=F, model=Scenario)
    assert (err.file, err.line, err.column, err.field) == (F, 5, 11, "hosts.runner.cpus")
    assert err.message == "expected an integer, got 'four'"
    assert err.exit_code == 2


def test_field_path() -> None:
    assert field_path(("workloads", "ci", "steps", 0, "pull")) == "workloads.ci.steps[0].pull"
    assert field_path(()) == ""
    assert field_path(("images", "app:1", "layers", 2)) == "images.app:1.layers[2]"


# -------------------------------------------------------------------------------------- property

_TOKENS = [
    "a", "b", ":", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",", "&x", "*x", "&y", "*y", "!!int", "!!str",
    "!!python/object:os.system", "!foo", "<<", "? ", "'", '"', "#", "---", "...", "%YAML 1.1",
    "%TAG ! tag:x,",
    "|", ">", "\t", "1", "0x", "-", ".inf", "1:30", "~", "yes", "\\", "\r", "\x85", "\u2028", "é", "\ufeff",
    "!!float", "!!bool", "!!map", "!!seq", "!!binary", "!!timestamp", "=", "!",
]


def _only_scenario_errors(content: str | bytes) -> None:
    try:
        data, positions = load_yaml(content, filename=F)
    except ScenarioError as err:
        assert "\n" not in str(err) and str(err).startswith(F)
    else:
        assert isinstance(data, dict) and positions.locate(()) is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | st.binary())
def test_any_text_or_bytes_raises_only_scenario_error(content: str | bytes) -> None:
    _only_scenario_errors(content)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_yaml_like_text_raises_only_scenario_error(content: str) -> None:
    _only_scenario_errors(content)
