"""Suggestions for a misread plate (the OCR confusions 0/D/Q, 8/B, 2/Z, 5/S) and machine-readable refusals."""

from __future__ import annotations

import pytest

from booth.domain.plates import PlateError, parse_plate, plateless_plate, suggest_plates

IN_LOT = ["苏A12345", "苏A1Z34S", "苏AB2345", "苏A02345", "苏AD2345", "苏AQ2345", "浙A12345", "苏A123456"]


@pytest.mark.parametrize(
    ("misread", "expected"),
    [
        ("苏A1Z345", ["苏A12345", "苏A1Z34S", "苏A123456"]),  # one confusion before two, then longer
        ("苏A8Z345", ["苏AB2345"]),  # 8/B and 2/Z together
        ("苏A02345", ["苏AD2345", "苏AQ2345"]),  # 0/D/Q; the read itself is not suggested
        ("苏AO2345", ["苏AD2345", "苏AQ2345"]),  # O in the serial reads as 0 first
        ("苏A12S45", []),  # S/5 is a confusion, but position 5 then has 4 against 3
        ("苏A13345", []),  # 3 is in no confusion class
        ("浙A1Z345", ["浙A12345"]),  # the province must agree
    ],
)
def test_whole_plate_matches_within_the_confusion_classes(misread: str, expected: list[str]) -> None:
    assert suggest_plates(misread, IN_LOT) == expected


def test_a_plate_being_typed_is_completed_after_the_whole_matches() -> None:
    # nothing is 6 characters long: plates that start like the read, fewest confusions first, then shortest
    assert suggest_plates("苏A1234", IN_LOT) == ["苏A12345", "苏A123456", "苏A1Z34S"]
    assert suggest_plates("苏A1Z345", IN_LOT, limit=1) == ["苏A12345"]
    assert suggest_plates("苏", IN_LOT) == []  # a province alone would list the whole lot
    assert suggest_plates("", IN_LOT) == []


def test_candidates_are_normalised_deduplicated_and_non_text_skipped() -> None:
    candidates = ["苏a·12345", "苏A12345", None, 7, "苏A 1 2 3 4 5"]
    assert suggest_plates("苏A1Z345", candidates) == ["苏A12345"]  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [-1, True, 2.0])
def test_a_bad_limit_is_refused(limit: object) -> None:
    with pytest.raises(ValueError, match="limit must be a non-negative integer"):
        suggest_plates("苏A12345", IN_LOT, limit=limit)  # type: ignore[arg-type]


def test_suggestions_refuse_a_non_text_read() -> None:
    with pytest.raises(PlateError) as caught:
        suggest_plates(None, IN_LOT)  # type: ignore[arg-type]
    assert caught.value.code == "not_text"


@pytest.mark.parametrize(
    ("text", "code", "params"),
    [
        ("", "empty", {}),
        ("苏A1234", "too_short", {"shape": "ordinary", "text": "苏A1234"}),
        ("苏A123456789", "too_long", {"shape": "plate_max"}),
        ("苏A1234#", "foreign", {"chars": "#"}),
        ("XA12345", "military", {"char": "X"}),
        ("A12345", "not_province", {"char": "A"}),
        ("苏I12345", "letter_io", {"char": "I"}),
        ("苏学12345", "last_only", {"char": "学"}),
        ("苏京12345", "province_later", {"char": "京"}),
        ("苏112345", "wrong_char", {"char": "1", "position": "2", "shape": "letter"}),
        ("沪AB123领", "wrong_char", {"char": "B", "position": "3", "shape": "consulate"}),
        ("苏AZ12345", "new_energy_start", {"char": "Z"}),
        ("粤BDA1B34", "wrong_char", {"char": "B", "position": "6", "shape": "small_new_energy"}),
        ("粤B12345挂", "suffix_too_long", {"char": "挂"}),
        ("粤B12345A", "not_new_energy", {"char": "A"}),
        ("使12345", "too_short", {"shape": "embassy"}),
        ("WJ京123456", "too_long", {"shape": "armed_police"}),
        ("无123", "too_short", {"shape": "plateless"}),
        ("无牌车", "no_plate", {}),
        ("粤B1234应急", "emergency", {}),
        ("蓝苏a 1o2i", "too_short", {"text": "蓝苏a 1o2i", "read_as": "苏A1021"}),
    ],
)
def test_refusals_carry_a_code_and_params(text: str, code: str, params: dict[str, str]) -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate(text)
    assert caught.value.code == code
    assert params.items() <= caught.value.params.items()


def test_plateless_serial_refusals_carry_codes() -> None:
    with pytest.raises(PlateError) as caught:
        plateless_plate(-1)
    assert (caught.value.code, caught.value.params["value"]) == ("serial_range", "-1")
    with pytest.raises(PlateError) as caught:
        plateless_plate("5")  # type: ignore[arg-type]
    assert caught.value.code == "bad_serial"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("粤BD12345", "new_energy_small"),
        ("粤BFA1234", "new_energy_small"),
        ("粤B12345D", "new_energy_large"),
        ("粤B12345F", "new_energy_large"),
    ],
)
def test_new_energy_plates_of_eight_characters_are_accepted(text: str, kind: str) -> None:
    plate = parse_plate(text)
    assert (plate.text, plate.kind.value) == (text, kind)
