"""The stage graph of large Dockerfiles: planning stays linear in the number of stages (issue 14: 800 stages took
36 s when every visit of a stage rescanned all stages), and long chains need no deep recursion."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from dsim.dockerfile.plan import make_plan
from dsim.dockerfile.plan_types import Stage
from dsim.errors import ScenarioError

STAGES = 2000


def copy_chain(n: int) -> str:
    """Stage sN copies from s(N-1): the last stage needs every stage."""
    return "".join(f"FROM alpine AS s{i}\n" + (f"COPY --from=s{i - 1} /a /a\n" if i else "") for i in range(n))


def base_chain(n: int) -> str:
    """Stage sN is built on s(N-1): the last stage needs every stage."""
    return "".join(f"FROM {'alpine' if i == 0 else f's{i - 1}'} AS s{i}\nRUN true\n" for i in range(n))


def independent(n: int) -> str:
    """No stage needs another: the last stage is built alone."""
    return "".join(f"FROM alpine AS s{i}\nRUN true\n" for i in range(n))


@pytest.mark.parametrize(("shape", "needed"), [
    (copy_chain, list(range(STAGES))),
    (base_chain, list(range(STAGES))),
    (independent, [STAGES - 1]),
])
def test_two_thousand_stages_plan_in_seconds(shape: Callable[[int], str], needed: list[int]) -> None:
    text = shape(STAGES)
    started = time.process_time()
    plan = make_plan(text)
    spent = time.process_time() - started
    assert len(plan.stages) == STAGES
    assert list(plan.needed) == needed
    # linear planning takes well under a second here; the cubic walk needed hours for 2,000 stages
    assert spent < 20, f"planning {STAGES} stages took {spent:.1f} s of CPU"


def test_stage_lookups_grow_linearly_with_the_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every walk of the graph looks each stage's ref up a bounded number of times (the cubic walk: n^3/2)."""
    lookups = 0
    plain_ref = Stage.ref

    def counted_ref(stage: Stage) -> str:
        nonlocal lookups
        lookups += 1
        return plain_ref.fget(stage)  # type: ignore[attr-defined]

    monkeypatch.setattr(Stage, "ref", property(counted_ref))
    n = 500
    plan = make_plan(copy_chain(n))
    assert list(plan.needed) == list(range(n))
    assert lookups <= 10 * n


def test_stages_copying_from_later_stages_are_refused_only_when_needed() -> None:
    """sN copies from s(N+1): BuildKit refuses that only for a stage the target needs (and walks no deep stack)."""
    text = "".join(f"FROM alpine AS s{i}\nCOPY --from=s{i + 1} /a /a\n" for i in range(STAGES - 1))
    text += f"FROM alpine AS s{STAGES - 1}\n"
    assert list(make_plan(text).needed) == [STAGES - 1]
    with pytest.raises(ScenarioError) as info:
        make_plan(text, target="s0")
    assert info.value.line == 2
    assert "cannot copy from stage 's1', it needs to be defined before current stage 's0'" in str(info.value)


def test_a_cycle_through_mounts_is_named_from_where_the_walk_entered_it() -> None:
    """s0 mounts from s2, s2 copies from s1, s1 mounts from s0: the walk starts at s0 (line 1)."""
    text = ("FROM alpine AS s0\nRUN --mount=from=s2,target=/m true\n"
            "FROM alpine AS s1\nRUN --mount=from=s0,target=/m true\n"
            "FROM alpine AS s2\nCOPY --from=s1 /a /a\n")
    with pytest.raises(ScenarioError) as info:
        make_plan(text)
    assert "circular dependency detected on stage: s0 (s0 -> s2 -> s1 -> s0)" in str(info.value)
    assert info.value.line == 3
