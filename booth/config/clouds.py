"""The clouds' sections: ``[bolink]`` (the lot's cloud), ``[alipay]`` and ``[tmall]`` (where payments and
parking data are sent back), and ``[sync]`` (how the outbox relays send to Alipay and Tmall).

The clients in :mod:`booth.clouds` take these settings; they live here, below the clients, so the settings
can be read and checked (``booth config check``) without any client.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from booth.config.keys import cached_private_key, cached_public_key, key_text
from booth.config.section import Section

BOLINK_SANDBOX = "sandbox"
BOLINK_REQUESTS_PER_10S = 100  # Bolink answers request_over_times above this, per token
ALIPAY_GATEWAY: Final = "https://openapi.alipay.com/gateway.do"
ALIPAY_SANDBOX: Final = "sandbox"
TOP_GATEWAY: Final = "https://eco.taobao.com/router/rest"
TOP_SANDBOX: Final = "sandbox"
SignMethod = Literal["md5", "hmac", "hmac-sha256"]
BackflowAction = Literal["arrive", "pay", "leave"]
SIGN_METHODS: Final = ("md5", "hmac", "hmac-sha256")
BACKFLOW_ACTIONS: Final = ("arrive", "pay", "leave")


class BolinkSettings(Section):
    base_url: str = Field(description='Bolink HTTP-mode base URL, or "sandbox" for the built-in emulator.')
    union_id: str = Field(min_length=1, description="Vendor (union) id issued by Bolink.")
    park_id: str = Field(min_length=1, description="The park's id at Bolink.")
    ukey: SecretStr = Field(description="Vendor signing key; never sent, only used to sign; masked.")
    local_id: str = Field(min_length=1, description="This charging system's id; may name its lanes.")
    request_timeout_s: float = Field(10.0, gt=0, le=60, description="Timeout of each upload.do call.")
    poll_timeout_s: float = Field(40.0, gt=0, le=120, description="Timeout of one download.do long poll.")
    request_budget_per_10s: int = Field(
        90,
        ge=1,
        le=100_000,
        description="Most requests sent per 10 s (Bolink refuses more than 100 per token); a third is kept "
        "for the lanes while the outbox catches up.",
    )
    query_start_s: float = Field(
        10.0, ge=0, le=3600, description="Start query_order this long after the QR shows."
    )
    query_every_s: float = Field(2.0, ge=0.1, le=600, description="Then query every this many seconds...")
    query_stop_s: float = Field(
        120.0, gt=0, le=3600, description="...and stop this long after the QR showed."
    )
    sandbox_port: int = Field(0, ge=0, le=65535, description="Port of the embedded sandbox (0 = any free).")
    sandbox_autopay_s: float | None = Field(
        None,
        ge=0,
        le=3600,
        description="Sandbox only: the emulated driver pays this many seconds after the QR shows.",
    )
    downstream_sign: Literal["warn", "refuse"] = Field(
        "warn",
        description='What a downstream message whose sign does not match (ukey rule) does: "warn" alerts '
        "and still handles it (Bolink documents no downstream signature, a mismatch may be its own wording); "
        '"refuse" answers it as refused and never acts on it (for lots that confirmed the rule).',
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value != BOLINK_SANDBOX and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f'must be an http(s) URL or "sandbox", got {value!r}')
        return value.rstrip("/")

    @model_validator(mode="after")
    def _budget_within_bolinks_limit(self) -> BolinkSettings:
        if self.request_budget_per_10s > BOLINK_REQUESTS_PER_10S and not self.is_emulator:
            raise ValueError(
                f"request_budget_per_10s: Bolink refuses more than {BOLINK_REQUESTS_PER_10S} requests per"
                f' 10 s, got {self.request_budget_per_10s} (only an emulator, "sandbox" or a loopback URL,'
                " may be given more)"
            )
        return self

    @property
    def is_emulator(self) -> bool:
        """The built-in sandbox or an emulator on this machine (load tests): never the real Bolink."""
        host = urlsplit(self.base_url).hostname or ""
        return self.is_sandbox or host == "localhost" or _is_loopback(host)

    @field_validator("ukey")
    @classmethod
    def _ukey(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @property
    def is_sandbox(self) -> bool:
        return self.base_url == BOLINK_SANDBOX


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- Alipay and Tmall --------------------------------------------------------------------------------------


class _GatewaySection(BaseModel):
    # as these sections always were: inf and nan reach the range checks, which refuse them
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlipayLotSettings(_GatewaySection):
    """The lot as ``parkinglotinfo.create`` describes it (fields and limits from the API document)."""

    city_id: str = Field(
        pattern=r"^\d{6}$",
        description="6-digit national administrative division code (GB/T 2260) of the lot's city or "
        "district, e.g. 110101.",
    )
    parking_address: str = Field(min_length=1, max_length=512, description="Street address of the lot.")
    longitude: Decimal = Field(ge=-180, le=180, description="Longitude in the AMap (GCJ-02) frame, degrees.")
    latitude: Decimal = Field(ge=-90, le=90, description="Latitude in the AMap (GCJ-02) frame, degrees.")
    parking_start_time: time = Field(time(0, 0, 0), description="Opening time (HH:MM:SS).")
    parking_end_time: time = Field(time(23, 59, 59), description="Closing time (HH:MM:SS).")
    parking_number: int = Field(ge=1, le=9_999_999_999, description="Number of spaces.")
    parking_lot_type: int = Field(
        2,
        ge=1,
        le=10,
        description="1 residential, 2 shopping/business district, 3 roadside, 4 park/industrial park, "
        "5 office building, 6 private/other (newer codes 7-10 also accepted).",
    )
    parking_type: tuple[Literal[1, 2, 3], ...] = Field(
        (2,), min_length=1, description="1 surface, 2 underground, 3 roadside; several allowed."
    )
    payment_mode: Literal[1, 2, 3] = Field(
        2, description="1 parking card, 2 printed QR material (物料), 3 central pay machine."
    )
    pay_type: tuple[Literal[1, 2, 3], ...] = Field(
        (1,),
        min_length=1,
        description="1 Alipay online, 2 Alipay auto-debit, 3 face-to-face; several allowed.",
    )
    shopingmall_id: str = Field("", max_length=28, description="Alipay's business-district id, if any.")
    equipment_name: str = Field("", max_length=512, description="Equipment vendor's name, if any.")
    parking_fee_description: str = Field("", max_length=512, description="Tariff shown to drivers.")
    contact_name: str = Field("", max_length=10, description="Lot contact person.")
    contact_mobile: str = Field("", max_length=11, description="Contact's mobile number.")
    contact_tel: str = Field("", max_length=18, description="Contact's landline.")
    contact_email: str = Field(
        "", max_length=50, description="Contact's e-mail (sent as Alipay's \"contact_emali\")."
    )
    contact_weixin: str = Field("", max_length=50, description="Contact's WeChat id.")
    contact_alipay: str = Field("", max_length=50, description="Contact's Alipay account.")
    time_out: int | None = Field(
        None, ge=1, le=9_999_999_999, description="Minutes a driver may stay after paying before a new fee."
    )
    parking_poiid: str = Field("", max_length=64, description="AMap POI id of the lot (newer API), if known.")
    parking_mobile: str = Field("", max_length=20, description="Lot's service phone (newer API), if any.")

    @field_validator("longitude", "latitude")
    @classmethod
    def _fifteen_chars(cls, value: Decimal) -> Decimal:
        if len(format(value, "f")) > 15:
            raise ValueError("at most 15 characters including the decimal point")
        return value


class AlipaySettings(_GatewaySection):
    """The ``[alipay]`` section: the app that syncs orders to Alipay's parking platform."""

    gateway_url: str = Field(
        ALIPAY_GATEWAY, description='Alipay OpenAPI gateway URL, or "sandbox" for the built-in emulator.'
    )
    app_id: str = Field(pattern=r"^\d{1,32}$", description="The app's id on the Alipay open platform.")
    app_private_key: SecretStr = Field(
        SecretStr(""), description="The app's RSA2 private key: PKCS#1 or PKCS#8, PEM or bare base64."
    )
    app_private_key_file: Path | None = Field(
        None, description="...or a file holding it (instead of the text)."
    )
    alipay_public_key: str = Field(
        "", description="Alipay's public key for this app (not the app's own): PEM or bare base64."
    )
    alipay_public_key_file: Path | None = Field(None, description="...or a file holding it.")
    app_auth_token: SecretStr = Field(
        SecretStr(""), description="Set when acting for a merchant (third-party app authorisation)."
    )
    out_parking_id: str = Field(
        min_length=1, max_length=28, description="This lot's id as Booth registers it with Alipay (ours)."
    )
    parking_id: str = Field(
        "", max_length=32, description="Alipay's id of this lot, from parkinglotinfo.create (theirs)."
    )
    parking_name: str = Field(
        min_length=1, max_length=64, description="Lot name at Alipay; ideally as on AMap (高德地图)."
    )
    order_pay_type: Literal["1", "2"] = Field("1", description="order.sync pay_type: 1 online, 2 auto-debit.")
    request_timeout_s: float = Field(10.0, gt=0, le=60, description="Overall timeout of one gateway call.")
    sandbox_port: int = Field(0, ge=0, le=65535, description="Port of the embedded emulator (0 = any free).")
    sandbox_url: str = Field(
        "",
        description='With gateway_url = "sandbox": the gateway URL of an emulator that runs in a process of '
        "its own (the demo's), whose keys are given here; empty = the booth starts the emulator itself.",
    )
    lot: AlipayLotSettings | None = Field(
        None,
        description="[alipay.lot]: the lot's details, needed once to register it (parkinglotinfo.create).",
    )

    @field_validator("gateway_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value != ALIPAY_SANDBOX and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f'must be an http(s) URL or "sandbox", got {value!r}')
        return value

    @field_validator("sandbox_url")
    @classmethod
    def _sandbox_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http(s) URL or empty, got {value!r}")
        return value

    @model_validator(mode="after")
    def _keys_usable(self) -> AlipaySettings:
        """Load both keys now, so a bad key is reported at start (and by ``booth config check``)."""
        private_given = (
            bool(self.app_private_key.get_secret_value().strip()) or self.app_private_key_file is not None
        )
        public_given = bool(self.alipay_public_key.strip()) or self.alipay_public_key_file is not None
        if self.sandbox_url and not self.is_sandbox:
            raise ValueError(
                f'sandbox_url is for gateway_url = "sandbox"; the gateway is {self.gateway_url!r}'
            )
        if self.is_sandbox and not self.sandbox_url and not private_given and not public_given:
            return self  # the engine makes throwaway keys for the emulator
        app_key = self.load_app_private_key()
        alipay_key = self.load_alipay_public_key()
        if app_key.public_key().public_numbers() == alipay_key.public_numbers():
            raise ValueError(
                "alipay_public_key is the app's own public key: give Alipay's public key (支付宝公钥) "
                "shown on the open platform next to the app"
            )
        return self

    @property
    def is_sandbox(self) -> bool:
        return self.gateway_url == ALIPAY_SANDBOX

    def load_app_private_key(self) -> rsa.RSAPrivateKey:
        text = key_text(
            self.app_private_key.get_secret_value(), self.app_private_key_file, "app_private_key"
        )
        return cached_private_key(text, "app_private_key")

    def load_alipay_public_key(self) -> rsa.RSAPublicKey:
        text = key_text(self.alipay_public_key, self.alipay_public_key_file, "alipay_public_key")
        return cached_public_key(text, "alipay_public_key")


class TmallSettings(_GatewaySection):
    """The ``[tmall]`` section: the TOP app that sends this lot's parking data back to Tmall."""

    gateway_url: str = Field(
        TOP_GATEWAY, description='TOP router URL, or "sandbox" for the built-in emulator.'
    )
    app_key: str = Field(min_length=1, max_length=32, description="The TOP app's key.")
    app_secret: SecretStr = Field(description="The TOP app's secret; never sent, only used to sign.")
    session: SecretStr = Field(SecretStr(""), description="Session key, when the app was given one.")
    sign_method: SignMethod = Field("hmac-sha256", description="md5, hmac (HMAC-MD5) or hmac-sha256.")
    mall_id: int = Field(ge=1, description="Tmall's id of the mall (商圈id) this lot belongs to.")
    partner_id: str = Field("", max_length=64, description="Optional partner id sent with every call.")
    actions: tuple[BackflowAction, ...] = Field(
        BACKFLOW_ACTIONS, description="Which events flow back: arrive, pay, leave."
    )
    request_timeout_s: float = Field(10.0, gt=0, le=60, description="Overall timeout of one TOP call.")
    sandbox_port: int = Field(0, ge=0, le=65535, description="Port of the embedded emulator (0 = any free).")

    @field_validator("gateway_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value != TOP_SANDBOX and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f'must be an http(s) URL or "sandbox", got {value!r}')
        return value

    @field_validator("app_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @property
    def is_sandbox(self) -> bool:
        return self.gateway_url == TOP_SANDBOX


# -- the outbox relays -------------------------------------------------------------------------------------


class SyncSettings(Section):
    """How the outbox relays send to Alipay and Tmall (retries, circuit breaker, alerts)."""

    retry_base_s: float = Field(
        1.0, ge=0.01, le=3600, description="First retry delay (full jitter above it)."
    )
    retry_cap_s: float = Field(300.0, ge=0.01, le=86_400, description="Longest delay between two retries.")
    breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive retryable failures that open a cloud's circuit breaker."
    )
    breaker_cooldown_s: float = Field(
        30.0, ge=0.01, le=3600, description="An open breaker sends nothing this long, then lets one probe go."
    )
    unverified_alert_after: int = Field(
        3, ge=1, le=1000, description="Alert the supervisor after this many unverifiable answers in a row."
    )
    concurrency: int = Field(8, ge=1, le=64, description="Requests in flight per cloud (each another stay).")
    status_every_s: float = Field(2.0, ge=0.01, le=60, description="How often the sync status is refreshed.")

    @model_validator(mode="after")
    def _cap_above_base(self) -> SyncSettings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError(
                f"retry_cap_s ({self.retry_cap_s:g}) must not be below retry_base_s ({self.retry_base_s:g})"
            )
        return self
