"""The parking tariff: a pure function from one stay to a quote with a breakdown a driver can check.

No I/O and no clock: the caller passes entry, exit and the lot's zone; money is integer fen. Import the
names from here (``from booth.domain.tariff import TariffSettings, quote_fee``). The modules, each building
only on those above it:

- ``settings``: the ``[tariff]`` section (``TariffSettings``: classes, night bands, caps, monthly passes,
  whitelist) and its value types (``YuanFen``: amounts as yuan text; ``ClockMinute``: "HH:MM").
- ``quotes``: ``Quote``, ``QuoteLine`` and ``TariffError``.
- ``stay``: one stay on its minute grid, priced part by part (the hot path).
- ``pricing``: ``quote_fee`` (what is charged, deducted, waived by grace), ``add_arrears`` and
  ``vehicle_class_for``. **How a stay is priced** (minutes, free minutes, periods, day/night, caps, passes,
  deductions and grace) is written out in its docstring, each rule pinned by tests/test_tariff.py.
"""

from booth.domain.tariff.pricing import add_arrears, quote_fee, vehicle_class_for
from booth.domain.tariff.quotes import (
    Quote,
    QuoteLine,
    Rule,
    TariffError,
)
from booth.domain.tariff.settings import (
    COLOURS,
    ClassTariff,
    ClockMinute,
    Colour,
    MonthlyPass,
    NightBand,
    OptionalYuanFen,
    TariffSettings,
    YuanFen,
)
from booth.domain.tariff.stay import MAX_STAY_DAYS

__all__ = [
    "COLOURS",
    "MAX_STAY_DAYS",
    "ClassTariff",
    "ClockMinute",
    "Colour",
    "MonthlyPass",
    "NightBand",
    "OptionalYuanFen",
    "Quote",
    "QuoteLine",
    "Rule",
    "TariffError",
    "TariffSettings",
    "YuanFen",
    "add_arrears",
    "quote_fee",
    "vehicle_class_for",
]
