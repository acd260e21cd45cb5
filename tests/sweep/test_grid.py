"""Grids: value lists, the full product in order, variant keys, and replication seeds by their definition."""

from __future__ import annotations

import hashlib

import pytest

from dsim.errors import UsageError
from dsim.sweep.grid import parse_vary, replication_seed, split_values, variants


def test_values_split_on_top_level_commas_only() -> None:
    assert split_values("1Gbps, 10Gbps,40Gbps") == ["1Gbps", "10Gbps", "40Gbps"]
    assert split_values("uniform(1s, 5s),3s") == ["uniform(1s, 5s)", "3s"]
    assert split_values("[1s, 2s],{burst: 3, at: 1s},'a,b'") == ["[1s, 2s]", "{burst: 3, at: 1s}", "'a,b'"]


def test_values_are_yaml() -> None:
    axis = parse_vary("hosts.runner.count=20,40")
    assert [v.value for v in axis.values] == [20, 40]
    assert [v.value for v in parse_vary("workloads.w.arrival={burst: 3},{burst: 4}").values] == [
        {"burst": 3}, {"burst": 4}]
    assert axis.labels == ("20", "40")


def test_full_grid_last_axis_fastest() -> None:
    grid = variants([parse_vary("a=1,2,3"), parse_vary("b=x,y")])
    assert [tuple(o.value for o in v.overrides) for v in grid] == [
        (1, "x"), (1, "y"), (2, "x"), (2, "y"), (3, "x"), (3, "y")]
    assert [v.index for v in grid] == list(range(6))


def test_variant_key_ignores_axis_order() -> None:
    one = variants([parse_vary("a=1"), parse_vary("b=x")])[0]
    two = variants([parse_vary("b=x"), parse_vary("a=1")])[0]
    assert one.key == two.key == '{"a":1,"b":"x"}'


def test_no_axes_is_the_base_scenario() -> None:
    grid = variants([])
    assert len(grid) == 1 and grid[0].overrides == () and grid[0].key == "{}"


def test_bad_vary_options() -> None:
    with pytest.raises(UsageError, match="expected PATH=V1,V2"):
        parse_vary("hosts.runner.count")
    with pytest.raises(UsageError, match="listed twice"):
        parse_vary("a=1,1")
    with pytest.raises(UsageError, match="empty value"):
        parse_vary("a=1,,2")
    with pytest.raises(UsageError, match="varied twice"):
        variants([parse_vary("a=1"), parse_vary("a=2")])


def test_replication_seeds() -> None:
    # replication 0 is the scenario's own seed (so `dsim run` reproduces it); r > 0: sha256 of "seed\0replication/r"
    assert replication_seed(42, 0) == 42
    digest = hashlib.sha256(b"42\x00replication/3").digest()
    assert replication_seed(42, 3) == int.from_bytes(digest[:8], "big") & (2**63 - 1)
    seeds = {replication_seed(42, r) for r in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**63 for s in seeds)
    assert replication_seed(43, 3) != replication_seed(42, 3)
