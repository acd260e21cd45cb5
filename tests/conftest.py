"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT


@pytest.fixture
def scenarios_dir() -> Path:
    return ROOT / "scenarios"
