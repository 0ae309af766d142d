"""Ed25519-signed receipts: proof, to anyone holding the public key, of when a report arrived."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"
KEY_FILE = "receipt-signing-key.pem"


def canonical_json(data: Any) -> bytes:
    """Keys sorted, no spaces, non-ASCII as UTF-8: the bytes that are hashed and signed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    # Cached: every receipt names the key, and deriving it took 2-3 % of the intake's CPU.
    @cached_property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @cached_property
    def key_id(self) -> str:
        return sha256_hex(self.public_bytes)[:16]

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_bytes).decode()

    def sign(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The receipt: ``fields`` plus ``key_id`` and the signature over all of them."""
        body = {**fields, "key_id": self.key_id}
        signature = self.private_key.sign(canonical_json(body))
        return {**body, "signature": base64.b64encode(signature).decode()}


def verify(receipt: dict[str, Any], public_key: bytes) -> bool:
    """True when the receipt's signature matches all its other fields."""
    body = dict(receipt)
    try:
        signature = base64.b64decode(body.pop("signature"), validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, canonical_json(body))
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return False
    return True


def load_signer(pem: str | None, data_dir: Path) -> Signer:
    """The configured key, else the one generated into the data dir on first use."""
    if pem:
        return Signer(_private_key(pem.encode()))
    path = data_dir / KEY_FILE
    if not path.exists():
        _write_new_key(path)
    return Signer(_private_key(path.read_bytes()))


def existing_public_key(pem: str | None, data_dir: Path) -> bytes | None:
    """The raw public key of the configured or stored signing key, without creating one."""
    if not pem and not (data_dir / KEY_FILE).exists():
        return None
    return load_signer(pem, data_dir).public_bytes


def _private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("KNTC_SIGNING_KEY must be an Ed25519 private key in PEM")
    return key


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    # Several processes may start at once: link() is atomic, so the first key written wins.
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
