"""Placeholder: the tariff is being written (issue 2, part 4). The schema name is fixed: TariffSettings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TariffSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
