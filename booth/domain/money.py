"""Money is integer fen (1 yuan = 100 fen) everywhere inside Booth; floats only exist at the wire."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_YUAN_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


class MoneyError(ValueError):
    """A text that should be an amount of money is not one."""


def format_yuan(fen: int) -> str:
    """12345 -> '123.45' (always two decimals, as Alipay and the breakdowns want)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def parse_yuan(text: str) -> int:
    """Parse what a person typed ('12', '12.5', '12.50') into fen; refuse anything else by name."""
    cleaned = text.strip()
    if not _YUAN_RE.match(cleaned):
        raise MoneyError(f"not an amount in yuan with at most two decimals: {text!r}")
    return int(Decimal(cleaned) * 100)


def wire_to_fen(value: object, *, field: str) -> int:
    """Convert an amount in yuan as a cloud sends it (number or string, e.g. 0.04 or "12.50") into fen.

    Floats are read through their shortest decimal text, so 0.07 becomes 7 fen, not 6.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field}: expected an amount in yuan, got {value!r}")
    if isinstance(value, (int, float, str)):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise MoneyError(f"{field}: not a number: {value!r}") from None
    else:
        raise MoneyError(f"{field}: expected an amount in yuan, got {type(value).__name__}")
    if not amount.is_finite() or amount < 0:
        raise MoneyError(f"{field}: not a valid amount: {value!r}")
    fen = (amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if fen != amount * 100:
        raise MoneyError(f"{field}: more than two decimals: {value!r}")
    if fen > 10**11:
        raise MoneyError(f"{field}: implausibly large amount: {value!r}")
    return int(fen)
