"""The base of every settings section: unknown keys refused, values frozen, inf and nan never a value."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # one table of the settings file: a typo is an unknown key, reported instead of silently ignored;
    # inf and nan are never a setting: a timeout of inf passed the range checks and crashed the start
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
