"""SQLAlchemy models and the domain rules they obey. Imports neither ``web`` nor ``workers``."""

from models.accounts import Account, ApiToken
from models.attachments import Attachment, AttachmentLink, AttachmentUpload
from models.audit import AuditEvent
from models.base import Base
from models.catalogue import CatalogueVersionRow
from models.deadlines import DeadlineRuleRow
from models.form_cache import FormChange, UnitFigures
from models.form_query_indexes import INDEXES as FORM_QUERY_INDEXES  # noqa: F401  (migration 0006)
from models.handling import PetitionEvent, PetitionHandling
from models.periods import LockException, Period, PeriodDue
from models.records import Case, Petition, Reception, ReceptionSession
from models.report_requests import ReportRequest
from models.submissions import IdempotencyRecord, OutboxEntry, Submission
from models.units import Unit

__all__ = [
    "Account",
    "ApiToken",
    "Attachment",
    "AttachmentLink",
    "AttachmentUpload",
    "AuditEvent",
    "Base",
    "Case",
    "CatalogueVersionRow",
    "DeadlineRuleRow",
    "FormChange",
    "IdempotencyRecord",
    "LockException",
    "OutboxEntry",
    "Period",
    "PeriodDue",
    "Petition",
    "PetitionEvent",
    "PetitionHandling",
    "Reception",
    "ReceptionSession",
    "ReportRequest",
    "Submission",
    "Unit",
    "UnitFigures",
]
