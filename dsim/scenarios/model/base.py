"""What every model of the scenario format shares: strictness, and the counting types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

#: strict ints: ``count: true`` is no count (YAML booleans would otherwise pass as 1), nor is ``2.5``
Count = Annotated[StrictInt, Field(ge=0)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]


class Strict(BaseModel):
    """Unknown keys are errors; values are validated when a model is built, defaults too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True)
