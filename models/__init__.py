"""SQLAlchemy models and the domain rules they obey. Imports neither ``web`` nor ``workers``."""

from models.accounts import Account, ApiToken
from models.attachments import Attachment, AttachmentLink, AttachmentUpload
from models.base import Base
from models.periods import LockException, Period, PeriodDue
from models.submissions import IdempotencyRecord, OutboxEntry, Submission
from models.units import Unit

__all__ = [
    "Account",
    "ApiToken",
    "Attachment",
    "AttachmentLink",
    "AttachmentUpload",
    "Base",
    "IdempotencyRecord",
    "LockException",
    "OutboxEntry",
    "Period",
    "PeriodDue",
    "Submission",
    "Unit",
]
