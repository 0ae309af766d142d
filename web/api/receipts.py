"""The public key that verifies receipts, for anyone who holds one."""

from __future__ import annotations

from flask import Blueprint

from models.receipts import ALGORITHM
from web.services import services

bp = Blueprint("receipts", __name__, url_prefix="/api/v1/receipts")


@bp.get("/public-key")
def public_key() -> dict[str, str]:
    signer = services().signer
    return {"algorithm": ALGORITHM, "key_id": signer.key_id, "public_key": signer.public_key_b64}
