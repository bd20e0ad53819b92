"""The words an attendant reads for a refusal from the office thread: a refused PIN (booth's AuthError
codes), a shift's or a person's change refused (ShiftError, StaffError codes), an engine not yet running.

One module for them all, so the lanes, the people's screens, the office's sheets and the bridge read the same
words without importing one another. The translation contexts stay "LockScreen" (PIN refusals) and
"ShiftWords" (shift and people codes), as the .ts file has them.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from booth.engine import EngineError
from booth.office.shifts import ShiftError
from booth.office.staff import AuthError, StaffError
from ui.kit.wording import QT_TRANSLATE_NOOP, refused_words

#: what an attendant reads for each refusal code of booth.staff.AuthError (the message itself is English)
_REFUSALS: dict[str, str] = {
    "wrong_pin": QT_TRANSLATE_NOOP("LockScreen", "PIN 不正确"),
    "unknown": QT_TRANSLATE_NOOP("LockScreen", "没有这个用户"),
    "disabled": QT_TRANSLATE_NOOP("LockScreen", "该用户已停用"),
    "locked": QT_TRANSLATE_NOOP("LockScreen", "输错次数过多，已暂时锁定"),
    "not_supervisor": QT_TRANSLATE_NOOP("LockScreen", "需要主管的 PIN"),
    "bad_pin": QT_TRANSLATE_NOOP("LockScreen", "PIN 格式不正确"),
}


def refusal_words(exc: BaseException) -> str:
    """What the attendant reads for a refused PIN: the code's words (plus tries left), else booth's phrase,
    else its message."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in _REFUSALS:
        words = QCoreApplication.translate("LockScreen", _REFUSALS[code])
        remaining = getattr(exc, "remaining", None)
        if code == "wrong_pin" and isinstance(remaining, int):
            tries = QCoreApplication.translate("LockScreen", "（还可再试 %1 次）")
            words += tries.replace("%1", str(remaining))
        return words
    said = refused_words(exc)
    if said is not None:
        return said
    message = getattr(exc, "message", None)
    return str(message) if message else f"{type(exc).__name__}: {exc}"


#: what the attendant reads for each booth.shifts.ShiftError code (the message itself is English)
SHIFT_ERRORS: dict[str, str] = {
    "shift_open": QT_TRANSLATE_NOOP("ShiftWords", "已有班次未交班：请先交班"),
    "no_open_shift": QT_TRANSLATE_NOOP("ShiftWords", "当前没有开启的班次"),
    "not_open": QT_TRANSLATE_NOOP("ShiftWords", "该班次已经交班"),
    "bad_count": QT_TRANSLATE_NOOP("ShiftWords", "点钞数量不正确：每种面额须为 0 至 100000 的整数"),
    "cosign_required": QT_TRANSLATE_NOOP("ShiftWords", "差额超出允许范围：需要主管输入 PIN 共同签字"),
    "bad_cosigner": QT_TRANSLATE_NOOP("ShiftWords", "主管签字未通过：用户名或 PIN 不正确，或不是主管本人"),
    "bad_handover": QT_TRANSLATE_NOOP("ShiftWords", "留给下一班的备用金须在 0 与清点总额之间"),
    "not_found": QT_TRANSLATE_NOOP("ShiftWords", "没有这个班次"),
    "bad_float": QT_TRANSLATE_NOOP("ShiftWords", "备用金金额不正确"),
    "bad_attendant": QT_TRANSLATE_NOOP("ShiftWords", "该收费员不存在或已停用，不能开班"),
    "bad_note": QT_TRANSLATE_NOOP("ShiftWords", "备注过长（最多 2000 字）"),
}


#: what the office's screens say while the engine is not running (yet): an office call refused at once
NOT_RUNNING = QT_TRANSLATE_NOOP("ShiftWords", "系统尚未启动完成，请稍候再试")


def _shift_tr(text: str) -> str:
    return QCoreApplication.translate("ShiftWords", text)


#: what the supervisor reads for each booth.staff.StaffError code (a change to the people refused)
STAFF_ERRORS: dict[str, str] = {
    "bad_username": QT_TRANSLATE_NOOP("ShiftWords", "用户名只能由字母、数字和 _ . - 组成（1-40 个字符）"),
    "bad_name": QT_TRANSLATE_NOOP("ShiftWords", "请填写姓名"),
    "bad_role": QT_TRANSLATE_NOOP("ShiftWords", "角色不正确"),
    "taken": QT_TRANSLATE_NOOP("ShiftWords", "该用户名已被使用"),
    "not_found": QT_TRANSLATE_NOOP("ShiftWords", "没有这个用户"),
    "not_allowed": QT_TRANSLATE_NOOP("ShiftWords", "只有主管可以这样做"),
    "last_supervisor": QT_TRANSLATE_NOOP("ShiftWords", "这是最后一位在职主管，不能停用"),
}


def office_error_words(exc: object) -> str:
    """The words for a refusal from the office thread: shift codes, PIN codes, an engine not running."""
    if isinstance(exc, ShiftError):
        return _shift_tr(SHIFT_ERRORS[exc.code]) if exc.code in SHIFT_ERRORS else exc.message
    if isinstance(exc, AuthError):
        return refusal_words(exc)
    if isinstance(exc, StaffError):
        return _shift_tr(STAFF_ERRORS[exc.code]) if exc.code in STAFF_ERRORS else exc.message
    if isinstance(exc, EngineError):
        return _shift_tr(NOT_RUNNING)
    if isinstance(exc, BaseException):  # the words of a command that failed unexpectedly (ui.link.bridge)
        failed = QCoreApplication.translate("CommandFailure", "操作失败：%1")
        return failed.replace("%1", f"{type(exc).__name__}: {exc}")
    return str(exc)
