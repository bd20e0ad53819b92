"""The tariff's deductions and grace: what was paid or discounted, and when grace waives the rest (only after
a payment that settled the whole fee due at its moment); arrears on top. Tariffs as in test_tariff.py."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from booth.domain.tariff import QuoteLine, TariffError, add_arrears, quote_fee
from tests.test_tariff import PLAIN, TZ, WITH_NIGHT, at, quote, settings

# --- payments, grace and deductions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exit", "due", "rule"),
    [
        # entry 09:00, paid 700 at 10:30 (the fee for 90 min)
        ("2024-05-01 10:30:00", 0, "paid"),  # 90 min = 700 - 700
        ("2024-05-01 10:35:00", 0, "grace"),  # 95 min = 500 + 2 x 200 = 900; 200 waived, 5 min after paying
        ("2024-05-01 10:45:00", 0, "grace"),  # 105 min = 900; exactly 15 min after paying: still grace
        ("2024-05-01 10:45:01", 200, "charged"),  # 106 min = 900 - 700; 15 min 1 s after paying
        ("2024-05-01 11:30:00", 400, "charged"),  # 150 min = 500 + 3 x 200 = 1100 - 700
    ],
)
def test_grace_after_payment(exit: str, due: int, rule: str) -> None:
    result = quote(PLAIN, "2024-05-01 09:00", exit, paid_fen=700, last_paid_at=at("2024-05-01 10:30"))
    assert (result.due_fen, result.rule) == (due, rule)


def test_grace_needs_a_payment() -> None:
    # last_paid_at without any amount paid waives nothing: 95 min = 900
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", last_paid_at=at("2024-05-01 10:30"))
    assert (result.due_fen, result.rule) == (900, "charged")


def test_zero_grace() -> None:
    tariff = settings(grace_minutes=0)
    paid: dict[str, Any] = {"paid_fen": 500, "last_paid_at": at("2024-05-01 10:00")}
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 10:00", **paid).rule == "paid"  # 500 - 500
    late = quote(tariff, "2024-05-01 09:00", "2024-05-01 10:00:01", **paid)  # 61 min = 700 - 500
    assert (late.due_fen, late.rule) == (200, "charged")


def test_grace_lines() -> None:
    result = quote(
        PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", paid_fen=700, last_paid_at=at("2024-05-01 10:30")
    )
    # 900 gross, 700 paid, 200 waived
    assert result.lines[-2:] == (
        QuoteLine("已付 7.00元", -700),
        QuoteLine("付款后15分钟内离场，免补缴", -200),
    )


@pytest.mark.parametrize(
    ("paid", "discount", "due", "deductions", "rule"),
    [
        # 90 min = 700 gross throughout
        (1000, 0, 0, [QuoteLine("已付 10.00元（抵扣7.00元）", -700)], "paid"),  # prepaid more than the fee
        (0, 2000, 0, [QuoteLine("优惠 20.00元（抵扣7.00元）", -700)], "paid"),  # discount more than the fee
        (300, 200, 200, [QuoteLine("优惠 2.00元", -200), QuoteLine("已付 3.00元", -300)], "charged"),
        # discount first (500), then 200 of the 500 paid
        (500, 500, 0, [QuoteLine("优惠 5.00元", -500), QuoteLine("已付 5.00元（抵扣2.00元）", -200)], "paid"),
    ],
)
def test_deductions(paid: int, discount: int, due: int, deductions: list[QuoteLine], rule: str) -> None:
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30", paid_fen=paid, discount_fen=discount)
    assert (result.gross_fen, result.paid_fen, result.discount_fen) == (700, paid, discount)
    assert (result.due_fen, result.rule) == (due, rule)
    assert list(result.lines[2:]) == deductions


def test_deductions_on_a_free_stay() -> None:
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 09:10", paid_fen=500, discount_fen=300)
    assert (result.gross_fen, result.due_fen, result.rule, result.paid_fen) == (0, 0, "free_minutes", 500)
    # a line for each amount given, even with nothing to deduct it from
    assert result.lines == (
        QuoteLine("15分钟内免费", 0),
        QuoteLine("优惠 3.00元（无需抵扣）", 0),
        QuoteLine("已付 5.00元（无需抵扣）", 0),
    )
    text = result.breakdown().splitlines()
    assert [row.split()[0] for row in text[2:]] == ["15分钟内免费", "费用合计", "优惠", "已付", "应付"]


def test_breakdown_text() -> None:
    result = quote(WITH_NIGHT, "2024-05-01 19:30", "2024-05-01 21:10", paid_fen=500, discount_fen=100)
    text = result.breakdown().splitlines()
    # 700 gross (500 first period by day + 200 at night), 100 discount, 500 paid, 100 due
    assert text[0] == "入场 2024-05-01 19:30:00  离场 2024-05-01 21:10:00"
    assert text[1] == "停车 1小时40分钟  车型 small"
    assert text[2].startswith("日间 19:30–20:00 首60分钟") and text[2].endswith(" 5.00元")
    assert text[3].startswith("夜间 20:00–21:10 2个60分钟×1.00元") and text[3].endswith(" 2.00元")
    assert text[4].startswith("费用合计") and text[4].endswith(" 7.00元")
    assert text[5].startswith("优惠 1.00元") and text[5].endswith(" -1.00元")
    assert text[6].startswith("已付 5.00元") and text[6].endswith(" -5.00元")
    assert text[7].startswith("应付") and text[7].endswith(" 1.00元  (临时车计费)")
    long_stay = quote(PLAIN, "2024-05-01 09:00", "2024-05-03 12:05").breakdown()
    assert "停车 2天3小时5分钟" in long_stay


# --- grace only after a payment that settled the whole fee due at its moment (issue 13, item 1) -------------


@pytest.mark.parametrize("paid", [1, 250, 699])
def test_a_partial_payment_never_earns_grace(paid: int) -> None:
    # entry 09:00; at 10:30 the fee is 700 and only part of it is paid; the exit at 10:35 owes 900 - paid
    paid_at = at("2024-05-01 10:30")
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", paid_fen=paid, last_paid_at=paid_at)
    assert (result.due_fen, result.rule) == (900 - paid, "charged")


def test_partial_payments_that_add_up_to_the_fee_earn_grace_from_the_last_of_them() -> None:
    payments = [(at("2024-05-01 10:00"), 300), (at("2024-05-01 10:30"), 400)]  # 700 = the fee at 10:30
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:40", paid_fen=700, payments=payments)
    assert (result.due_fen, result.rule) == (0, "grace")
    # the first of them alone settled nothing (the fee at 10:00 was 500): 10:12 is not within its grace
    early = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:12", paid_fen=300, payments=payments[:1])
    assert (early.due_fen, early.rule) == (500 + 200 - 300, "charged")


def test_a_full_settlement_keeps_its_grace_after_a_later_partial_top_up() -> None:
    # 700 settles the fee at 10:30; a stray 1 fen at 10:40 (fee 900 then) settles nothing, takes nothing away
    payments = [(at("2024-05-01 10:30"), 700), (at("2024-05-01 10:40"), 1)]
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:44", paid_fen=701, payments=payments)
    assert (result.due_fen, result.rule) == (0, "grace")
    later = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:46", paid_fen=701, payments=payments)
    assert (later.due_fen, later.rule) == (900 - 701, "charged")


def test_a_payment_made_while_nothing_was_due_earns_no_grace() -> None:
    # 1 fen paid within the free minutes "covers" a fee of 0: the exit at 09:20 still owes the first hour
    paid_at = at("2024-05-01 09:05")
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 09:20", paid_fen=1, last_paid_at=paid_at)
    assert (result.due_fen, result.rule) == (500 - 1, "charged")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"paid_fen": 5, "payments": [(at("2024-05-01 10:00"), 4)]}, "add up to 4 fen but paid_fen is 5"),
        ({"paid_fen": 1, "payments": [(datetime(2024, 5, 1, 10), 1)]}, r"payments\[0\] time .* no time zone"),
        ({"paid_fen": 1, "payments": [(at("2024-05-01 08:00"), 1)]}, r"payments\[0\] at .* is before entry"),
        ({"paid_fen": 1, "payments": [(at("2024-05-01 10:00"), True)]}, r"payments\[0\] amount must be"),
        ({"paid_fen": 1, "payments": ["x"]}, r"payments\[0\] must be a \(paid at, fen\) pair"),
        (
            {"paid_fen": 1, "payments": [(at("2024-05-01 10:00"), 1)], "last_paid_at": at("2024-05-01 10")},
            "either payments or last_paid_at",
        ),
    ],
)
def test_bad_payment_lists_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TariffError, match=message):
        quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", **kwargs)




@pytest.mark.parametrize("seed", range(4))
def test_grace_oracle_over_random_payment_histories(seed: int) -> None:
    """The rule, checked from gross prices alone: a quote waives the rest only when the exit is within grace
    of a moment at which the payments made by then covered a fee of more than nothing; otherwise it asks for
    exactly the gross fee less what was paid."""
    rng = random.Random(f"grace oracle {seed}")
    entry = at("2024-05-01 09:00")

    def gross(until: datetime) -> int:
        return quote_fee(PLAIN, plate="苏A12345", colour="blue", entry=entry, exit=until, tz=TZ).gross_fen

    for _ in range(150):
        moments = sorted(entry + timedelta(minutes=rng.randrange(0, 600), seconds=rng.randrange(60))
                         for _ in range(rng.randrange(1, 4)))  # fmt: skip
        payments = [(m, rng.choice([1, 100, 200, 500, gross(m), gross(m) + 1, max(gross(m) - 1, 0)]))
                    for m in moments]  # fmt: skip
        paid = sum(fen for _, fen in payments)
        exit = moments[-1] + timedelta(minutes=rng.randrange(0, 40), seconds=rng.randrange(60))
        result = quote_fee(PLAIN, plate="苏A12345", colour="blue", entry=entry, exit=exit, tz=TZ,
                           paid_fen=paid, payments=payments)  # fmt: skip
        owed = max(gross(exit) - paid, 0)
        settled_moments = [
            m for i, (m, _) in enumerate(payments)
            if (g := gross(m)) > 0 and sum(fen for _, fen in payments[: i + 1]) >= g
        ]  # fmt: skip
        graced = any(exit - m <= timedelta(minutes=PLAIN.grace_minutes) for m in settled_moments)
        assert result.due_fen == (0 if graced else owed), (payments, exit, result.breakdown())


def test_arrears_are_asked_on_top_and_money_paid_beyond_the_fee_counts_against_them() -> None:
    base = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30")  # 700, nothing paid
    owed = add_arrears(base, [300, 200])
    assert (owed.due_fen, owed.rule) == (1200, "charged")
    assert owed.lines[-1].fen == 500 and owed.lines[-1].phrase is not None
    assert owed.lines[-1].phrase.code == "tariff.arrears"
    # 900 paid towards a 700 fee: the spare 200 is set against the arrears, the rest is asked
    paid = add_arrears(quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30", paid_fen=900), [500])
    assert paid.due_fen == 300 and [line.fen for line in paid.lines[-2:]] == [500, -200]
    assert sum(line.fen for line in paid.lines) == paid.due_fen
    # grace waives this stay's rest, never the arrears
    paid_at = at("2024-05-01 10:30")
    graced = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", paid_fen=700, last_paid_at=paid_at)
    assert graced.rule == "grace" and add_arrears(graced, [400]).due_fen == 400
    assert add_arrears(base, []) is base
