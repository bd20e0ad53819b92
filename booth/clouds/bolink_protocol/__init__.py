"""Bolink (泊链) HTTP-mode wire format: signing, envelopes, downstream messages and the booth's answers.

Pure functions and values, no I/O, shared by the client (``booth.clouds.bolink``) and the sandbox
(``booth.sandbox.bolink_cloud``) so both sides speak exactly the same dialect. Import from the package;
its modules follow Bolink's document:

* :mod:`.json_text`: the one compact JSON form sent, and strict, total reading of what arrives
  (:class:`BadMessage` with a one-line reason, never a traceback);
* :mod:`.wire`: endpoints and names, the sign ``upper(md5_hex(utf8(DATA_TEXT + "key=" + ukey)))``, the
  ``upload.do`` envelope (built around the exact data text it signed, checked against the exact text
  received) and reading upload.do's answers (state, errmsg, stale token, already processed);
* :mod:`.messages`: the downstream messages (outpark results, price queries, prepayments, plateless
  entries, balances) read into typed values by :func:`parse_downstream`, which is total;
* :mod:`.signs`: the signs a downstream message may carry, checked separately from parsing so the
  client decides by setting whether a mismatch only warns or refuses (Bolink documents no downstream
  envelope signature);
* :mod:`.answers`: the booth's answers to the messages that expect one.
"""

from booth.clouds.bolink_protocol.answers import (
    bad_message_answer,
    nolicence_answer,
    outpark_ack,
    prepay_answer,
    query_price_answer,
)
from booth.clouds.bolink_protocol.json_text import (
    MAX_JSON_NUMBER_DIGITS,
    BadMessage,
    BadSign,
    compact_json,
)
from booth.clouds.bolink_protocol.messages import (
    FREE_TEXT_MAX_CHARS,
    ID_MAX_CHARS,
    MAX_AMOUNT_TEXT,
    DownstreamMessage,
    NolicenceInPark,
    OutparkResult,
    PrepayOrder,
    QueryPrice,
    UpdateBalance,
    parse_downstream,
)
from booth.clouds.bolink_protocol.signs import (
    SignCheck,
    check_downstream_signs,
)
from booth.clouds.bolink_protocol.wire import (
    ALREADY_PROCESSED_PREFIX,
    ANSWERED_SERVICES,
    DATA_TARGET,
    DOWNLOAD_PATH,
    DOWNSTREAM_SERVICES,
    ERRMSG_MAX,
    MAX_INTEGER_DIGITS,
    NO_MESSAGE,
    ORDER_ID_RE,
    PAY_TYPES,
    RATE_LIMITED_ERRMSG,
    TOKEN_INVALID_ERRMSG,
    UPLOAD_PATH,
    answer_errmsg,
    answer_state,
    encode_envelope,
    is_already_processed,
    is_token_invalid,
    sign,
    verify_envelope,
)

__all__ = [
    "ALREADY_PROCESSED_PREFIX",
    "ANSWERED_SERVICES",
    "DATA_TARGET",
    "DOWNLOAD_PATH",
    "DOWNSTREAM_SERVICES",
    "ERRMSG_MAX",
    "FREE_TEXT_MAX_CHARS",
    "ID_MAX_CHARS",
    "MAX_AMOUNT_TEXT",
    "MAX_INTEGER_DIGITS",
    "MAX_JSON_NUMBER_DIGITS",
    "NO_MESSAGE",
    "ORDER_ID_RE",
    "PAY_TYPES",
    "RATE_LIMITED_ERRMSG",
    "TOKEN_INVALID_ERRMSG",
    "UPLOAD_PATH",
    "BadMessage",
    "BadSign",
    "DownstreamMessage",
    "NolicenceInPark",
    "OutparkResult",
    "PrepayOrder",
    "QueryPrice",
    "SignCheck",
    "UpdateBalance",
    "answer_errmsg",
    "answer_state",
    "bad_message_answer",
    "check_downstream_signs",
    "compact_json",
    "encode_envelope",
    "is_already_processed",
    "is_token_invalid",
    "nolicence_answer",
    "outpark_ack",
    "parse_downstream",
    "prepay_answer",
    "query_price_answer",
    "sign",
    "verify_envelope",
]
