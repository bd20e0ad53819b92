"""Plate parsing: every kind accepted, camera/human noise normalised, every refusal named precisely."""

from __future__ import annotations

import pytest

from booth.domain.plates import (
    PLATELESS_MARKERS,
    PROVINCES,
    Plate,
    PlateColour,
    PlateError,
    PlateKind,
    colour_from_vzenith,
    normalise_plate_text,
    parse_plate,
    plateless_plate,
)

# --- accepted kinds -------------------------------------------------------------------------------------

ACCEPTED = [
    # ordinary (blue / yellow: colour unknown unless the camera says)
    ("苏A12345", PlateKind.ORDINARY),
    ("京N8P8F8", PlateKind.ORDINARY),
    ("苏A8HK52", PlateKind.ORDINARY),
    ("琼Z00000", PlateKind.ORDINARY),
    ("黑A12345", PlateKind.ORDINARY),  # Heilongjiang: 黑 is a province here, not a colour word
    ("沪ABCDEF", PlateKind.ORDINARY),
    # coach, police, trailer, Hong Kong, Macau
    ("苏A1234学", PlateKind.COACH),
    ("川A0E01学", PlateKind.COACH),
    ("苏A1234警", PlateKind.POLICE),
    ("京A0001警", PlateKind.POLICE),
    ("鲁B2345挂", PlateKind.TRAILER),
    ("冀EA123挂", PlateKind.TRAILER),
    ("粤Z1234港", PlateKind.HONG_KONG),
    ("粤ZF023港", PlateKind.HONG_KONG),
    ("粤Z1234澳", PlateKind.MACAU),
    ("粤Z0A12澳", PlateKind.MACAU),
    # small new-energy: P L [DF] X dddd, plus the widened first letter of public code
    ("粤BD12345", PlateKind.NEW_ENERGY_SMALL),
    ("京AF0236", PlateKind.ORDINARY),  # 7 characters: an ordinary plate that happens to contain F
    ("京ADF0236", PlateKind.NEW_ENERGY_SMALL),
    ("沪ADA1234", PlateKind.NEW_ENERGY_SMALL),
    ("浙AA12345", PlateKind.NEW_ENERGY_SMALL),
    ("苏EK0001", PlateKind.ORDINARY),
    ("苏EK00001", PlateKind.NEW_ENERGY_SMALL),
    ("川AC12345", PlateKind.NEW_ENERGY_SMALL),
    # large new-energy: P L ddddd [DF]
    ("粤B12345D", PlateKind.NEW_ENERGY_LARGE),
    ("京A00001F", PlateKind.NEW_ENERGY_LARGE),
    ("鄂A99999D", PlateKind.NEW_ENERGY_LARGE),
    # consulate: P L dddd 领
    ("沪A1234领", PlateKind.CONSULATE),
    ("粤A0001领", PlateKind.CONSULATE),
    ("川A9999领", PlateKind.CONSULATE),
    # embassy: 使 dddddd
    ("使123456", PlateKind.EMBASSY),
    ("使014578", PlateKind.EMBASSY),
    ("使000001", PlateKind.EMBASSY),
    # armed police (inferred): WJ P? [0-9A-Z]{4,5}
    ("WJ京12345", PlateKind.ARMED_POLICE),
    ("WJ粤1234X", PlateKind.ARMED_POLICE),
    ("WJ12345", PlateKind.ARMED_POLICE),
    ("WJ1234", PlateKind.ARMED_POLICE),
    ("WJ川0A12", PlateKind.ARMED_POLICE),
    # our own plateless ids round-trip
    ("无0000001", PlateKind.PLATELESS),
    ("无ZZZZZZZ", PlateKind.PLATELESS),
]


@pytest.mark.parametrize(("text", "kind"), ACCEPTED)
def test_every_kind_is_accepted_and_kept_canonical(text: str, kind: PlateKind) -> None:
    plate = parse_plate(text)
    assert plate.kind is kind
    assert plate.text == text
    assert plate.is_plateless is (kind is PlateKind.PLATELESS)
    assert parse_plate(plate.text) == plate  # canonical text parses to the same plate


def test_every_kind_has_an_example() -> None:
    assert {kind for _, kind in ACCEPTED} == set(PlateKind)


@pytest.mark.parametrize("province", list(PROVINCES))
def test_every_province_starts_a_plate(province: str) -> None:
    assert parse_plate(f"{province}A12345").text == f"{province}A12345"


def test_provinces_are_the_31_of_the_spec_in_order() -> None:
    assert PROVINCES == "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
    assert len(set(PROVINCES)) == 31


def test_plate_is_frozen_and_compares_by_value() -> None:
    plate = parse_plate("苏A12345", PlateColour.BLUE)
    assert plate == Plate("苏A12345", PlateKind.ORDINARY, PlateColour.BLUE)
    with pytest.raises(AttributeError):
        plate.text = "苏A54321"  # type: ignore[misc]


def test_enum_values_are_lower_case_words() -> None:
    assert PlateKind.NEW_ENERGY_SMALL == "new_energy_small"
    assert PlateKind.ARMED_POLICE == "armed_police"
    assert PlateColour.YELLOW_GREEN == "yellow_green"
    assert all(kind.value == kind.name.lower() for kind in PlateKind)
    assert all(colour.value == colour.name.lower() for colour in PlateColour)


# --- normalisation --------------------------------------------------------------------------------------

NORMALISED = [
    ("  苏A12345\n", "苏A12345"),
    ("浙A.66666", "浙A66666"),
    ("浙A·66666", "浙A66666"),
    ("浙A•66666", "浙A66666"),
    ("浙A-66666", "浙A66666"),
    ("浙 A 6 6 6 6 6", "浙A66666"),
    ("浙\u3000A\u00a066666", "浙A66666"),  # ideographic and no-break spaces
    ("苏ａ１２３４５", "苏A12345"),  # full-width letters and digits
    ("苏Ａ．１２３４５", "苏A12345"),  # full-width full stop as separator
    ("苏a8hk52", "苏A8HK52"),
    ("蓝苏A8HK52", "苏A8HK52"),  # Hikvision colour prefix
    ("黄绿粤B12345D", "粤B12345D"),
    ("绿粤BD12345", "粤BD12345"),
    ("黑黑A12345", "黑A12345"),  # colour word 黑 in front of the province 黑
    ("黑A12345", "黑A12345"),  # the province alone is not a colour word
    ("白WJ京12345", "WJ京12345"),
    ("黑使123456", "使123456"),
    # I -> 1 and O -> 0 in the serial only
    ("苏AI2345", "苏A12345"),
    ("苏A1234O", "苏A12340"),
    ("粤BDIOOO1", "粤BD10001"),
    ("粤BO2345D", "粤B02345D"),
    ("WJ京IO234", "WJ京10234"),
    ("WJIO234", "WJ10234"),
    ("使IOOOO1", "使100001"),
    ("无OOOOOOI", "无0000001"),
    # ... but never in the letter after the province, which stays for validation to refuse
    ("苏IA2345", "苏IA2345"),
    ("苏OA2345", "苏OA2345"),
    # no recognisable plate head: no substitution either
    ("IO12345", "IO12345"),
    ("蓝", "蓝"),  # a colour word with nothing after it is left for validation to refuse
    ("黑", "黑"),
    ("", ""),
    ("_无_", "_无_"),
]


@pytest.mark.parametrize(("raw", "canonical"), NORMALISED)
def test_normalise_plate_text(raw: str, canonical: str) -> None:
    assert normalise_plate_text(raw) == canonical


def test_normalising_twice_changes_nothing() -> None:
    for _, canonical in NORMALISED:
        assert normalise_plate_text(canonical) == canonical


def test_normalise_refuses_non_text() -> None:
    with pytest.raises(PlateError, match="plate is not text: 12345"):
        normalise_plate_text(12345)  # type: ignore[arg-type]


def test_parse_uses_the_normalised_text() -> None:
    assert parse_plate(" 苏 a·1o2i3 ").text == "苏A10213"
    assert parse_plate("蓝苏a.8hk52").text == "苏A8HK52"


def test_i_and_o_are_substituted_in_the_serial_but_refused_after_the_province() -> None:
    assert parse_plate("苏AIOIOI").text == "苏A10101"
    assert parse_plate("苏AI234O").text == "苏A12340"
    # In the second position I and O are never issued and not read as digits (a digit is not allowed there
    # either): refused, saying so.
    for text, letter in (("苏I12345", "I"), ("苏O12345", "O")):
        with pytest.raises(PlateError) as caught:
            parse_plate(text)
        assert f"'{letter}' cannot be the second character" in caught.value.reason
        assert "I and O are never issued" in caught.value.reason


# --- colours --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "colour"),
    [
        (0, PlateColour.UNKNOWN),
        (1, PlateColour.BLUE),
        (2, PlateColour.YELLOW),
        (3, PlateColour.WHITE),
        (4, PlateColour.BLACK),
        (5, PlateColour.GREEN),
        (6, PlateColour.YELLOW_GREEN),
        (7, PlateColour.UNKNOWN),  # a code newer firmware may add: unknown, never an error
        (-1, PlateColour.UNKNOWN),
    ],
)
def test_vzenith_colour_codes(code: int, colour: PlateColour) -> None:
    assert colour_from_vzenith(code) is colour


def test_vzenith_colour_refuses_to_read_a_bool_as_a_code() -> None:
    assert colour_from_vzenith(True) is PlateColour.UNKNOWN


@pytest.mark.parametrize(
    ("text", "colour"),
    [
        ("苏A12345", PlateColour.UNKNOWN),  # ordinary: blue or yellow, only the camera knows
        ("粤BD12345", PlateColour.GREEN),
        ("粤B12345D", PlateColour.YELLOW_GREEN),
        ("苏A1234警", PlateColour.WHITE),
        ("WJ京12345", PlateColour.WHITE),
        ("使123456", PlateColour.BLACK),
        ("沪A1234领", PlateColour.BLACK),
        ("粤Z1234港", PlateColour.BLACK),
        ("粤Z1234澳", PlateColour.BLACK),
        ("苏A1234学", PlateColour.YELLOW),
        ("鲁B2345挂", PlateColour.YELLOW),
        ("无0000001", PlateColour.UNKNOWN),
    ],
)
def test_colour_is_inferred_from_the_kind_when_not_given(text: str, colour: PlateColour) -> None:
    assert parse_plate(text).colour is colour
    assert parse_plate(text, None).colour is colour
    assert parse_plate(text, PlateColour.UNKNOWN).colour is colour  # "unknown" is as good as none
    assert parse_plate(text, 0).colour is colour  # Vzenith 0 = unknown


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        (PlateColour.BLUE, PlateColour.BLUE),
        (1, PlateColour.BLUE),
        (2, PlateColour.YELLOW),
        (6, PlateColour.YELLOW_GREEN),
        ("blue", PlateColour.BLUE),
        ("Yellow", PlateColour.YELLOW),
        ("yellow_green", PlateColour.YELLOW_GREEN),
        ("yellow-green", PlateColour.YELLOW_GREEN),
        ("yellowGreen", PlateColour.YELLOW_GREEN),
        (" black ", PlateColour.BLACK),
        ("蓝", PlateColour.BLUE),
        ("黄色", PlateColour.YELLOW),
        ("黄绿色", PlateColour.YELLOW_GREEN),
        ("白", PlateColour.WHITE),
        ("4", PlateColour.BLACK),
    ],
)
def test_given_colour_is_read_in_any_spelling(colour: PlateColour | str | int, expected: PlateColour) -> None:
    assert parse_plate("苏A12345", colour).colour is expected


def test_given_colour_wins_over_inference_even_when_it_contradicts_the_kind() -> None:
    # Cameras misjudge colours: keep what was given, never refuse for colour.
    assert parse_plate("粤BD12345", PlateColour.BLUE).colour is PlateColour.BLUE
    assert parse_plate("使123456", 3).colour is PlateColour.WHITE
    assert parse_plate("苏A1234警", "yellow").colour is PlateColour.YELLOW


def test_given_colour_wins_over_the_colour_prefix() -> None:
    assert parse_plate("蓝苏A8HK52").colour is PlateColour.BLUE
    assert parse_plate("蓝苏A8HK52", "yellow").colour is PlateColour.YELLOW
    assert parse_plate("蓝苏A8HK52", 0).colour is PlateColour.BLUE  # unknown given: the prefix still counts
    assert parse_plate("黄绿粤B12345D").colour is PlateColour.YELLOW_GREEN
    assert parse_plate("黑黑A12345").colour is PlateColour.BLACK


@pytest.mark.parametrize("colour", ["purple", "other", "", "99", 42, True, 1.5, object()])
def test_unrecognised_colour_never_refuses_and_falls_back_to_inference(colour: object) -> None:
    assert parse_plate("粤BD12345", colour).colour is PlateColour.GREEN  # type: ignore[arg-type]
    assert parse_plate("苏A12345", colour).colour is PlateColour.UNKNOWN  # type: ignore[arg-type]


# --- plateless ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", sorted(PLATELESS_MARKERS - {""}))
def test_plateless_markers_are_refused_and_point_to_plateless_plate(marker: str) -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate(marker)
    assert "no plate" in caught.value.reason
    assert "plateless_plate()" in caught.value.reason


def test_plateless_markers_include_the_camera_texts() -> None:
    assert {"_无_", "无牌车", "无车牌", ""} <= PLATELESS_MARKERS


def test_empty_marker_is_reported_as_empty() -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate("")
    assert caught.value.reason == "plate is empty"


def test_plateless_plate_shape() -> None:
    plate = plateless_plate(1)
    assert plate == Plate("无0000001", PlateKind.PLATELESS, PlateColour.UNKNOWN)
    assert plate.is_plateless
    assert plateless_plate(0).text == "无0000000"
    assert plateless_plate(34).text == "无0000010"  # base 34: the plate serial characters, no I or O
    assert plateless_plate(34**7 - 1).text == "无ZZZZZZZ"


def test_plateless_plate_is_deterministic_short_unique_and_parses_back() -> None:
    serials = [*range(10_000), *range(34**7 - 500, 34**7)]
    texts = [plateless_plate(serial).text for serial in serials]
    assert len(set(texts)) == len(serials)
    assert texts == [plateless_plate(serial).text for serial in serials]
    for text in texts:
        assert len(text) <= 8
        assert text.startswith("无")
        assert "I" not in text and "O" not in text
    for serial in (0, 7, 9_999, 123_456_789):
        plate = plateless_plate(serial)
        assert parse_plate(plate.text) == plate


@pytest.mark.parametrize(
    ("serial", "reason"),
    [
        (-1, "plateless serial must be between 0 and 52523350143, got -1"),
        (34**7, "plateless serial must be between 0 and 52523350143, got 52523350144"),
        (True, "plateless serial must be an integer, got True"),
        ("5", "plateless serial must be an integer, got '5'"),
    ],
)
def test_plateless_plate_refuses_bad_serials(serial: int, reason: str) -> None:
    with pytest.raises(PlateError) as caught:
        plateless_plate(serial)
    assert caught.value.reason == reason


# --- refusals -------------------------------------------------------------------------------------------


def test_error_is_a_value_error_whose_message_is_the_reason() -> None:
    with pytest.raises(ValueError, match="too short") as caught:
        parse_plate("苏A1234")
    assert isinstance(caught.value, PlateError)
    assert str(caught.value) == caught.value.reason


def test_too_short_message_names_the_input_and_the_shape() -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate("苏A1234")
    assert caught.value.reason == (
        '"苏A1234": too short: an ordinary plate has 7 characters (province, letter, 5 serial characters)'
    )


def test_message_shows_how_a_changed_input_was_read() -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate("蓝苏a 1o2i")
    assert caught.value.reason.startswith('"蓝苏a 1o2i" (read as "苏A1021"): too short')


def test_non_text_is_refused() -> None:
    with pytest.raises(PlateError, match="plate is not text: None"):
        parse_plate(None)  # type: ignore[arg-type]


INVALID = [
    # empty
    ("", "plate is empty"),
    ("   ", "plate is empty"),
    (" · - ", "plate is empty"),
    # characters never on plates
    ("苏A1234#", "contains characters that are never on plates: '#'"),
    ("苏A12_45", "contains characters that are never on plates: '_'"),
    ("苏A#12@4", "contains characters that are never on plates: '#', '@'"),
    ("苏A1234甲", "contains characters that are never on plates: '甲'"),
    ("甲A1234甲", "contains characters that are never on plates: '甲'"),
    ("苏Ä12345", "contains characters that are never on plates: 'Ä'"),
    ("蓝", "'蓝' is not a province character"),
    ("黄绿", "contains characters that are never on plates: '黄', '绿'"),
    ("WJ", "too short: an armed police plate"),
    # first character
    ("XA12345", "'X' is not a province character"),
    ("XA12345", "military plate"),
    ("A12345", "'A' is not a province character"),
    ("1A23456", "'1' is not a province character"),
    ("甲A12345", "'甲' is not a province character"),
    ("学A12345", "'学' is not a province character"),
    ("W京12345", "'W' is not a province character"),
    # second character
    ("苏I12345", "'I' cannot be the second character: the letters I and O are never issued"),
    ("苏O12345", "'O' cannot be the second character: the letters I and O are never issued"),
    ("苏112345", "'1' cannot be character 2: the second character is a letter (A-Z without I and O)"),
    ("苏京12345", "'京' is a province character and can only come first"),
    ("苏学12345", "'学' can only be the last character of a plate"),
    # length
    ("苏A1234", "too short: an ordinary plate has 7 characters (province, letter, 5 serial characters)"),
    ("苏", "too short"),
    ("苏A123456789", "too long: a plate has at most 8 characters"),
    ("苏A12345挂", "too long for a plate ending in '挂': such a plate has 7 characters"),
    # ordinary / suffix / consulate
    ("苏A12学45", "'学' can only be the last character of a plate"),
    ("苏A1234领5", "'领' can only be the last character of a plate"),
    ("苏A苏1234", "'苏' is a province character and can only come first"),
    ("苏A123使5", "'使' cannot be character 6: the serial is letters (no I or O) and digits"),
    ("沪AB123领", "'B' cannot be character 3: a consulate plate (领) has 4 digits between the letter and 领"),
    # new energy
    ("苏AZ12345", "'Z' cannot start the serial of a small new-energy plate (D or F"),
    ("粤BDA1B34", "'B' cannot be character 6: a small new-energy plate ends in 4 digits"),
    ("粤B1234AD", "'A' cannot be character 7: a large new-energy plate has 5 digits before its final D or F"),
    ("粤B12345A", "an 8-character plate must be new-energy"),
    ("粤B12345A", "it ends in 'A'"),
    # embassy
    ("使12345", "too short: an embassy plate is 使 followed by 6 digits"),
    ("使1234567", "too long: an embassy plate is 使 followed by 6 digits"),
    ("使12345A", "'A' cannot be character 7: an embassy plate is 使 followed by 6 digits"),
    # armed police
    ("WJ京123", "too short: an armed police plate is WJ, an optional province character and 4-5 serial"),
    ("WJ京123456", "too long: an armed police plate is WJ"),
    ("WJ京12学4", "'学' can only be the last character of a plate"),
    ("WJ1234警", "'警' cannot be character 7: an armed police plate is WJ"),
    ("WJ学1234", "'学' can only be the last character of a plate"),
    # plateless ids and markers
    ("无123", "too short: a plateless id is 无 followed by 7 letters (no I or O) and digits"),
    ("无12345678", "too long: a plateless id is 无"),
    ("_无_", "no plate: the camera sent its 'no plate' marker"),
    ("无牌车", "no plate"),
    ("蓝无车牌", "no plate"),
    # handled manually
    ("粤B1234应急", "emergency (应急) plates are not handled automatically: route to manual handling"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid_input_is_refused_naming_the_problem(text: str, reason: str) -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate(text)
    assert reason in caught.value.reason
    if text.strip():
        assert caught.value.reason.startswith(f'"{text}"')  # the message names the input as given


def test_invalid_table_is_large_enough() -> None:
    assert len({text for text, _ in INVALID}) >= 30
