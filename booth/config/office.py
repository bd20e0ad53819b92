"""The office's sections: ``[staff]`` (PINs and the lock-out), ``[shifts]`` (float, blind count,
co-signature) and ``[exceptions]`` (free releases and manual lifts: reasons, approvals, limits)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from booth.config.section import Section
from booth.domain.tariff import YuanFen

#: Chinese yuan notes and coins in fen, largest first: the blind count's rows.
DEFAULT_DENOMINATIONS = (10_000, 5_000, 2_000, 1_000, 500, 100, 50, 10)
#: Largest float or variance threshold (1,000,000 yuan) and note (10,000 yuan): sums of counts stay far
#: inside SQLite's 64-bit integers.
MAX_CASH_FEN = 100_000_000
MAX_DENOMINATION_FEN = 1_000_000


class StaffSettings(Section):
    """[staff]: attendants' and supervisors' PINs (kept as salted scrypt hashes) and the lock-out."""

    pin_min_length: int = Field(4, ge=4, le=12, description="Shortest PIN accepted when one is set.")
    lockout_after: int = Field(5, ge=1, le=20, description="Wrong PINs in a row before a lock-out.")
    lockout_minutes: int = Field(15, ge=1, le=1440, description="How long a lock-out lasts.")


class ShiftSettings(Section):
    """[shifts]: the opening float, the blind count and when a variance needs a supervisor's co-signature."""

    default_float: YuanFen = Field(
        50_000, le=MAX_CASH_FEN, description='Opening float of a first shift, yuan ("500.00").'
    )
    cosign_variance: YuanFen = Field(
        2_000,
        le=MAX_CASH_FEN,
        description="A close whose |counted - expected| is above this, yuan text, needs a supervisor.",
    )
    denominations: tuple[int, ...] = Field(
        DEFAULT_DENOMINATIONS,
        max_length=30,
        description="Notes and coins counted at close, in fen, largest first.",
    )

    @field_validator("denominations")
    @classmethod
    def _sane_denominations(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one denomination is needed")
        if any(d <= 0 or d > MAX_DENOMINATION_FEN for d in value):
            raise ValueError(f"denominations are amounts in fen from 1 to {MAX_DENOMINATION_FEN}")
        if len(set(value)) != len(value):
            raise ValueError("a denomination is listed twice")
        return tuple(sorted(value, reverse=True))


class ExceptionSettings(Section):
    """[exceptions]: the reasons offered for free releases and manual lifts, which need a supervisor, and
    how many of each a shift may have before the supervisor is alerted."""

    free_release_reasons: tuple[str, ...] = Field(
        ("员工车辆", "特种车辆", "设备故障", "经理批准", "投诉处理", "短时进出"),
        description="Reasons offered for a free release (the attendant may add free text).",
    )
    manual_lift_reasons: tuple[str, ...] = Field(
        ("道闸故障", "系统故障", "识别失败", "特种车辆", "经理批准", "车辆滞留"),
        description="Reasons offered for a manual lift (the attendant may add free text).",
    )
    approval_required: tuple[str, ...] = Field(
        ("经理批准", "投诉处理"), description="Reasons that need a supervisor's PIN before the gate lifts."
    )
    free_text_allowed: bool = Field(True, description="Allow a reason typed in place of a listed one.")
    arrears_waiver_needs_approval: bool = Field(
        True,
        description="A free release or manual lift that forgoes a plate's arrears (fees of earlier stays "
        "whose exit was not seen) needs a supervisor, whatever the reason.",
    )
    typed_reasons_need_approval: bool = Field(
        True, description="A typed (unlisted) reason needs a supervisor, as approval_required ones do."
    )
    max_free_releases_per_shift: int = Field(
        20,
        ge=0,
        le=10_000,
        description="Alert the supervisor when a shift exceeds this many free releases (0 = off).",
    )
    max_manual_lifts_per_shift: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Alert the supervisor when a shift exceeds this many manual lifts (0 = off).",
    )

    @model_validator(mode="after")
    def _reasons_listed(self) -> ExceptionSettings:
        for name in ("free_release_reasons", "manual_lift_reasons"):
            reasons = getattr(self, name)
            if any(not r.strip() or len(r) > 64 for r in reasons):
                raise ValueError(f"{name}: each reason is 1 to 64 characters")
        listed = set(self.free_release_reasons) | set(self.manual_lift_reasons)
        unknown = [r for r in self.approval_required if r not in listed]
        if unknown:
            raise ValueError(f"approval_required names reasons that are in neither list: {unknown}")
        return self
