import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsim.distributions import parse_distribution
from dsim.units import parse_duration, parse_rate, parse_size


@pytest.mark.parametrize(("text", "expected"), [
    ("80MB", 80e6), ("1.2GiB", 1.2 * 2**30), ("512", 512.0), ("1kB", 1000.0), ("3 KiB", 3072.0), ("inf", math.inf),
    (0, 0.0), (1024, 1024.0),
])
def test_sizes(text: object, expected: float) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("1Gbps", 125e6), ("125MB/s", 125e6), ("100Mbps", 12.5e6), ("10Gbps", 1.25e9), ("400MiB/s", 400 * 2**20),
    ("inf", math.inf),
])
def test_rates(text: str, expected: float) -> None:
    assert parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("250ms", 0.25), ("4m", 240.0), ("1h30m", 5400.0), ("2", 2.0), ("1m30s", 90.0), ("1.5s", 1.5), ("inf", math.inf),
])
def test_durations(text: str, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize(("parser", "text"), [
    (parse_rate, "1 Gbit"), (parse_size, "-5MB"), (parse_size, "12 parsecs"), (parse_duration, "soon"),
    (parse_duration, "5 s s"), (parse_size, -1), (parse_rate, True), (parse_duration, [1]),
])
def test_bad_units_raise_value_error(parser, text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        parser(text)


@given(st.text(max_size=30))
def test_parsers_raise_only_value_error(text: str) -> None:
    for parser in (parse_size, parse_rate, parse_duration, parse_distribution):
        with contextlib.suppress(ValueError):
            parser(text)


def test_distribution_means_by_sampling() -> None:
    """Sample means converge on the stated means (200k samples: standard error well under 1%)."""
    import random

    rng = random.Random(7)
    for text, mean in [("uniform(1s, 5s)", 3.0), ("exponential(mean=50ms)", 0.05),
                       ("lognormal(mean=4m, sigma=0.5)", 240.0),
                       ("normal(mean=2s, sd=0.3s)", 2.0), ("empirical([1s, 2s, 2s, 9s])", 3.5)]:
        dist = parse_distribution(text)
        assert dist.mean == pytest.approx(mean)
        sampled = sum(dist.sample(rng) for _ in range(200_000)) / 200_000
        assert sampled == pytest.approx(mean, rel=0.01), text


def test_a_distribution_is_what_the_user_wrote_its_mean_worked_out_once() -> None:
    # mean and is_constant are worked out when the distribution is made (the start path reads them per
    # container), not parts of its identity: equality, hashing, repr and a pickle's round trip go by kind,
    # parameters and text alone, and a copy gets its own mean again
    import dataclasses
    import pickle

    dist = parse_distribution("uniform(1s, 5s)")
    assert (dist.mean, dist.is_constant) == (3.0, False)
    assert parse_distribution("2s").is_constant and parse_distribution("2s").mean == 2.0
    assert dist == parse_distribution("uniform(1s, 5s)") and hash(dist) == hash(parse_distribution("uniform(1s, 5s)"))
    assert repr(dist) == "Distribution(kind='uniform', params=(1.0, 5.0), text='uniform(1s, 5s)')"
    assert pickle.loads(pickle.dumps(dist)).mean == 3.0
    assert dataclasses.replace(dist, params=(1.0, 3.0)).mean == 2.0


@pytest.mark.parametrize("text", ["gamma(1s)", "uniform(5s, 1s)", "exponential(rate=3)", "empirical(1s)",
                                  "lognormal(mean=1s)", "uniform(1s, 2s, 3s)"])
def test_bad_distributions(text: str) -> None:
    with pytest.raises(ValueError):
        parse_distribution(text)
