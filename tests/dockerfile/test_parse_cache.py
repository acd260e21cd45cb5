"""A Dockerfile's text is parsed by the package once per process (dsim/dockerfile/parse.py: its parser leaks the
objects it makes, so a sweep worker or ``dsim serve`` parsing the same text again and again grew without end)."""

from __future__ import annotations

import dockerfile
import pytest

from dsim.dockerfile.parse import parse_dockerfile
from dsim.errors import ScenarioError


def test_the_same_text_is_parsed_once_and_errors_still_name_each_file(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = dockerfile.parse_string

    def counting(text: str) -> object:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(dockerfile, "parse_string", counting)
    text = "FROM busybox\nRUN echo parsed-once-7f3a\n"
    first = parse_dockerfile(text)
    assert parse_dockerfile(text, filename="other/Dockerfile") == first
    assert calls.count(text) == 1
    first.append(first[0])  # each caller gets its own list
    assert len(parse_dockerfile(text)) == 2
    bad = "# parsed-once-7f3a: only a comment\n"
    for name in ("a/Dockerfile", "b/Dockerfile"):  # an error is not kept: each parse names its own file
        with pytest.raises(ScenarioError, match=name):
            parse_dockerfile(bad, filename=name)
