"""A quote: the fee of one stay with the lines a driver can check (``Quote``, ``QuoteLine``), and the error of
a stay that cannot be priced (``TariffError``)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from booth.domain.money import format_yuan
from booth.domain.phrases import Phrase

Rule = Literal["charged", "free_minutes", "monthly_pass", "whitelist", "grace", "paid"]


class TariffError(ValueError):
    """The stay cannot be priced as given (naive datetimes, exit before entry, unknown colour...)."""


class QuoteLine:
    """One line of a quote: ``label`` is its Chinese text, ``phrase`` the same for a screen that translates
    (a "tariff.*" code of booth.domain.phrases; None only for lines built by hand). Lines compare by label
    and amount: the phrase is the same line in another form.

    The label is worded from the phrase when first read, not when the line is made: most quotes are never
    shown (a lane re-quotes, a benchmark or a report prices thousands), and wording every line eagerly cut
    the tariff's throughput from ~80,000 to ~35,000 quotes/s. Immutable once made.
    """

    __slots__ = ("_label", "fen", "phrase")
    _label: str | None
    fen: int
    phrase: Phrase | None

    def __init__(self, label: str | None, fen: int, phrase: Phrase | None = None) -> None:
        if label is None and phrase is None:
            raise TypeError("a quote line needs a label or a phrase")
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "fen", fen)
        object.__setattr__(self, "phrase", phrase)

    @property
    def label(self) -> str:
        label: str | None = self._label
        if label is None:
            assert self.phrase is not None
            label = self.phrase.text
            object.__setattr__(self, "_label", label)
        return label

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"QuoteLine is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuoteLine):
            return NotImplemented
        return self.fen == other.fen and self.label == other.label

    def __hash__(self) -> int:
        return hash((self.label, self.fen))

    def __repr__(self) -> str:
        return f"QuoteLine({self.label!r}, {self.fen!r}, {self.phrase!r})"


def quote_line(phrase: Phrase, fen: int) -> QuoteLine:
    return QuoteLine(None, fen, phrase)


# Deduction lines start with these words (and no charge line does): the breakdown totals the lines above.
_DISCOUNT, _PAID, _GRACE = "优惠", "已付", "付款后"

_RULE_TEXT: dict[str, str] = {
    "charged": "临时车计费",
    "free_minutes": "免费时段内",
    "monthly_pass": "月卡有效",
    "whitelist": "白名单免费",
    "grace": "付款后宽限期内",
    "paid": "已付清",
}


@dataclass(frozen=True, slots=True)
class Quote:
    """The fee for one stay; ``sum(line.fen for line in lines) == due_fen``.

    ``paid_fen`` and ``discount_fen`` are the amounts given to quote_fee; the deduction lines show how much
    of each was used. ``entry`` and ``exit`` are in the lot's zone.
    """

    entry: datetime
    exit: datetime
    duration_minutes: int
    vehicle_class: str
    gross_fen: int
    paid_fen: int
    discount_fen: int
    due_fen: int
    rule: Rule
    lines: tuple[QuoteLine, ...]

    def breakdown(self) -> str:
        """The text an attendant reads out or prints: stay, each line, total, deductions, due."""
        out = [
            f"入场 {self.entry:%Y-%m-%d %H:%M:%S}  离场 {self.exit:%Y-%m-%d %H:%M:%S}",
            f"停车 {_duration_text(self.duration_minutes)}  车型 {self.vehicle_class}",
        ]
        charges = len(self.lines)
        while charges and self.lines[charges - 1].label.startswith((_DISCOUNT, _PAID, _GRACE)):
            charges -= 1
        out += [_aligned(line.label, line.fen) for line in self.lines[:charges]]
        out.append(_aligned("费用合计", self.gross_fen))
        out += [_aligned(line.label, line.fen) for line in self.lines[charges:]]
        out.append(_aligned("应付", self.due_fen) + f"  ({_RULE_TEXT[self.rule]})")
        return "\n".join(out)


def _duration_text(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = (f"{days}天" if days else "") + (f"{hours}小时" if hours or days else "")
    return f"{text}{mins}分钟"


def _aligned(label: str, fen: int, width: int = 44) -> str:
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
    amount = f"{format_yuan(fen)}元"
    return f"{label}{' ' * max(2, width - shown - len(amount))}{amount}"
