"""What every model of the scenario format shares: strictness, and the counting types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]


class Strict(BaseModel):
    """Unknown keys are errors; values are validated when a model is built, defaults too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True)
