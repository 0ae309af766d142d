"""Request bodies, validated with pydantic: each error names its field."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt, field_validator

Code = Annotated[str, Field(min_length=1, max_length=64)]


def _number(value: object) -> object:
    # Checked before the int | float union, whose own errors would name the field
    # "figures.1.int" and "figures.1.float" instead of "figures.1".
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number, e.g. 12")
    return value


# Figures are counts, money or areas: never negative, never NaN, and bounded so that a
# typo of a thousand zeros is caught here rather than in a report.
Figure = Annotated[StrictInt | StrictFloat, BeforeValidator(_number), Field(ge=0, le=1e15, allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionBody(Body):
    period: Code
    unit: Code
    form: Annotated[str, Field(min_length=1, max_length=20)]
    figures: dict[str, Figure] = Field(default_factory=dict, max_length=200)
    note: Annotated[str, Field(max_length=4000)] | None = None

    @field_validator("figures")
    @classmethod
    def _column_numbers(cls, figures: dict[str, int | float]) -> dict[str, int | float]:
        bad = [key for key in figures if not key.isdigit()]
        if bad:
            raise ValueError(f'keys must be column numbers such as "1"; got {", ".join(bad[:5])}')
        normalised = {str(int(key)): value for key, value in figures.items()}
        if len(normalised) != len(figures):
            raise ValueError('a column is given twice (e.g. "1" and "01"); give each column once')
        return normalised


class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]


class PeriodBody(Body):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    starts: dt.date
    ends: dt.date
    due: str
    due_for: dict[str, str] = Field(default_factory=dict)
    grace: str = "0s"
    forms: list[str] = Field(default_factory=list)


class PeriodChange(Body):
    due: str | None = None
    due_for: dict[str, str] | None = None
    grace: str | None = None


class LockExceptionBody(Body):
    unit: Code
    form: Annotated[str, Field(min_length=1, max_length=20)]
    reason: Annotated[str, Field(max_length=1000)] = ""


class AttachmentsBody(Body):
    attachments: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=50)]


class BundleBody(Body):
    images: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=50)]
