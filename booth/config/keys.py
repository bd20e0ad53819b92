"""RSA keys read from settings: PEM or bare base64 text (Alipay's key tool gives both), inline or a file.

Every refusal is an :class:`AlipayKeyError` whose message starts with the setting's name and says what is
wrong (empty, encrypted, a certificate, the other half of the pair, too short, not RSA), so ``booth config
check`` can print it as it is.
"""

from __future__ import annotations

import base64
import binascii
import functools
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MIN_RSA_BITS: Final = 2048


class AlipayKeyError(ValueError):
    """A configured key cannot be used; the message names the setting and the problem."""


def _key_der(text: str, name: str) -> tuple[bytes | None, bytes | None]:
    """Split key text into (PEM bytes, DER bytes): exactly one is set."""
    cleaned = text.strip().replace("\\n", "\n")
    if not cleaned:
        raise AlipayKeyError(f"{name}: the key is empty")
    if "-----BEGIN" in cleaned:
        if "ENCRYPTED" in cleaned:
            raise AlipayKeyError(
                f"{name}: the key is encrypted (password-protected); give an unencrypted key"
            )
        if "CERTIFICATE" in cleaned:
            raise AlipayKeyError(
                f"{name}: this is a certificate; Booth uses public-key mode (公钥模式), not certificate mode"
            )
        return cleaned.encode("ascii", "replace"), None
    compact = "".join(cleaned.split())
    try:
        return None, base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise AlipayKeyError(
            f"{name}: neither a PEM block nor base64 text (as Alipay's key tool gives it)"
        ) from None


def load_private_key(text: str, *, name: str = "app_private_key") -> rsa.RSAPrivateKey:
    """Load an RSA private key: PKCS#1 or PKCS#8, PEM or bare base64 (Alipay's key tool gives both)."""
    pem, der = _key_der(text, name)
    try:
        key = (
            serialization.load_pem_private_key(pem, password=None)
            if pem is not None
            else serialization.load_der_private_key(der or b"", password=None)
        )
    except TypeError:
        raise AlipayKeyError(
            f"{name}: the key is encrypted (password-protected); give an unencrypted key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        if _looks_public(pem, der):
            raise AlipayKeyError(f"{name}: this is a public key; the private key is needed here") from None
        raise AlipayKeyError(f"{name}: not a valid RSA private key (PKCS#1 or PKCS#8)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AlipayKeyError(f"{name}: not an RSA key ({type(key).__name__}); RSA2 needs RSA")
    if key.key_size < MIN_RSA_BITS:
        raise AlipayKeyError(f"{name}: a {key.key_size}-bit key; RSA2 needs at least {MIN_RSA_BITS} bits")
    return key


def load_public_key(text: str, *, name: str = "alipay_public_key") -> rsa.RSAPublicKey:
    """Load an RSA public key: SPKI or PKCS#1, PEM or bare base64 (as the open platform shows it)."""
    pem, der = _key_der(text, name)
    try:
        key = (
            serialization.load_pem_public_key(pem)
            if pem is not None
            else serialization.load_der_public_key(der or b"")
        )
    except (ValueError, UnsupportedAlgorithm):
        if (pem is not None and b"PRIVATE KEY" in pem) or (der is not None and _der_is_private(der)):
            raise AlipayKeyError(f"{name}: this is a private key; the public key is needed here") from None
        raise AlipayKeyError(f"{name}: not a valid RSA public key (SPKI or PKCS#1)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise AlipayKeyError(f"{name}: not an RSA key ({type(key).__name__}); RSA2 needs RSA")
    if key.key_size < MIN_RSA_BITS:
        raise AlipayKeyError(f"{name}: a {key.key_size}-bit key; RSA2 needs at least {MIN_RSA_BITS} bits")
    return key


def _looks_public(pem: bytes | None, der: bytes | None) -> bool:
    if pem is not None:
        return b"PUBLIC KEY" in pem
    try:
        serialization.load_der_public_key(der or b"")
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _der_is_private(der: bytes) -> bool:
    try:
        serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def public_key_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """SPKI PEM of a key's public half (what the open platform wants uploaded, what an emulator needs)."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    """Unencrypted PKCS#8 PEM of a throwaway key (the sandbox's; real keys are the operator's files)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@functools.lru_cache(maxsize=8)
def cached_private_key(text: str, name: str) -> rsa.RSAPrivateKey:
    """Loading checks the RSA key's consistency (tens of ms); settings are validated, then used, so once."""
    return load_private_key(text, name=name)


@functools.lru_cache(maxsize=8)
def cached_public_key(text: str, name: str) -> rsa.RSAPublicKey:
    return load_public_key(text, name=name)


def key_text(inline: str, path: Path | None, name: str) -> str:
    """The key setting ``name``'s text: given inline or read from ``{name}_file`` (exactly one of them)."""
    if inline.strip() and path is not None:
        raise AlipayKeyError(f"{name} and {name}_file are both set: keep one")
    if path is None:
        if not inline.strip():
            raise AlipayKeyError(f"{name} (or {name}_file) is required")
        return inline
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlipayKeyError(f"{name}_file: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AlipayKeyError(f"{name}_file: {str(path)!r} is not a text key file (PEM or base64)") from None
