"""The period status page: who in a subtree has reported, for people watching deadline night.

Server-rendered HTML that reloads itself every 30 seconds; no JavaScript. A browser
cannot send a Bearer header, so the token may come once as ``?token=`` (or from the
sign-in form): it is moved into an HttpOnly, SameSite=Strict cookie scoped to
``/status`` and a redirect takes it out of the address bar. Later loads use the cookie
(or a Bearer header). The subtree rule is the API's: the caller sees its own unit and
what is below it. Errors are HTML pages too, never problem+json, never a 500 for bad input.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from models.auth import Principal
from models.base import utcnow
from models.completeness import completeness
from models.errors import DomainError
from models.periods import Period, describe_deadline
from models.submissions import Status, Submission
from models.units import CODE_PATTERN, Unit, path_codes
from web.auth import principal_for
from web.services import db, services

bp = Blueprint("status", __name__, url_prefix="/status")
log = structlog.get_logger(__name__)

COOKIE = "kntc_status_token"
REFRESH_SECONDS = 30
DEFAULT_FORM = "01/TCD"
# Above this many units not yet reported the list would swamp a phone; the table's
# links lead down to subtrees small enough to list.
MISSING_LIST_LIMIT = 200
PENDING = (Status.QUEUED.value, Status.PROCESSING.value)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # No script may run on these pages, whatever a unit's name contains.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


TITLES = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    401: ("Cần đăng nhập", "Sign-in needed"),
    403: ("Không có quyền xem", "Not allowed"),
    404: ("Không tìm thấy", "Not found"),
    500: ("Lỗi hệ thống", "Server error"),
}


class PageError(Exception):
    """An answer other than the page itself, shown as an HTML page in both languages."""

    def __init__(self, status: int, vi: str, en: str, links: list[tuple[str, str]] | None = None) -> None:
        super().__init__(en)
        self.status, self.vi, self.en, self.links = status, vi, en, links or []


# --- the page ------------------------------------------------------------------------


@bp.get("/<path:period_code>")
def page(period_code: str) -> BaseResponse:
    """Totals and per-child rows for ``?unit=`` (default: the caller's unit) and ``?form=``."""
    if "token" in request.args:
        return _adopt(request.args["token"], period_code)
    who = _caller()
    period = _period(period_code)
    unit = _unit(request.args.get("unit") or who.unit_code)
    if not who.covers(unit.path):
        raise PageError(
            403,
            f"Đơn vị {unit.code} nằm ngoài phạm vi của tài khoản {who.username} (đơn vị {who.unit_code} và cấp dưới).",
            f"Unit {unit.code} is outside what account {who.username} may see: unit {who.unit_code} and below it.",
            [(url_for("status.page", period_code=period.code), f"Đơn vị của bạn — Your unit ({who.unit_code})")],
        )
    form = _form(period, request.args.get("form") or None)
    view = _build(who, period, unit, form)
    return _html(render_template("status/page.html", v=view, refresh=REFRESH_SECONDS), 200)


@bp.post("/<path:period_code>")
def sign_in(period_code: str) -> BaseResponse:
    """The sign-in form's target: a token typed by a person stays out of URLs and history."""
    return _adopt(request.form.get("token", ""), period_code)


# --- who is calling ------------------------------------------------------------------


def _adopt(token: str, period_code: str) -> BaseResponse:
    """Check a token from the URL or the form, keep it in a cookie, reload without it."""
    who = principal_for(token.strip())
    if who is None:
        raise PageError(401, "Mã truy cập không đúng hoặc đã hết hạn.", "The token is unknown, expired or disabled.")
    clean = url_for("status.page", period_code=period_code, **_kept_args())
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        # A link followed from another site (webmail, chat): the browser would withhold the
        # SameSite=Strict cookie from the redirected request too, so this page moves on itself,
        # which makes the next request same-site.
        response: BaseResponse = _html(render_template("status/continue.html", href=clean), 200)
    else:
        response = redirect(clean, 303 if request.method == "POST" else 302)
        response.headers.update(SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        token.strip(),
        expires=who.expires_at,
        path=bp.url_prefix or "/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )
    return response


def _kept_args() -> dict[str, Any]:
    """The query without the token: what a redirect or the sign-in form carries over."""
    return {key: request.args[key] for key in ("unit", "form") if request.args.get(key)}


def _caller() -> Principal:
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else ""
    token = token or request.cookies.get(COOKIE, "")
    if not token:
        raise PageError(401, "Chưa có mã truy cập.", "No token was given.")
    who = principal_for(token)
    if who is None:
        raise PageError(401, "Mã truy cập đã hết hạn hoặc bị thu hồi.", "The token is unknown, expired or revoked.")
    return who


# --- what is asked for ---------------------------------------------------------------


def _period(code: str) -> Period:
    period = None
    if len(code) <= 40 and code.isprintable():
        period = db().scalar(sa.select(Period).where(Period.code == code))
    if period is None:
        raise PageError(404, f"Không có kỳ báo cáo {code!r}.", f"There is no reporting period {code!r}.")
    return period


def _unit(code: str) -> Unit:
    unit = db().scalar(sa.select(Unit).where(Unit.code == code)) if CODE_PATTERN.match(code) else None
    if unit is None:
        raise PageError(404, f"Không có đơn vị {code!r}.", f"There is no unit {code!r}.")
    return unit


def _form(period: Period, asked: str | None) -> str:
    forms = services().forms
    if asked is None:
        return DEFAULT_FORM if DEFAULT_FORM in period.forms or not period.forms else period.forms[0]
    if not forms.knows(asked):
        known = ", ".join(period.forms or forms.codes)
        raise PageError(404, f"Không có biểu mẫu {asked!r}; dùng: {known}.", f"No form {asked!r}; use one of {known}.")
    return asked


# --- what the page shows -------------------------------------------------------------


@dataclass
class Counts:
    expected: int = 0
    submitted: int = 0
    on_time: int = 0
    late: int = 0
    pending: int = 0

    @property
    def not_yet(self) -> int:
        return self.expected - self.submitted - self.pending

    @property
    def percent(self) -> int | None:
        """Share reported, rounded down: 199 of 200 is not 100%."""
        return self.submitted * 100 // self.expected if self.expected else None

    def share(self, part: int) -> str:
        """A bar segment's width."""
        return f"{part * 100 / self.expected:.2f}%" if self.expected else "0%"

    @classmethod
    def of(cls, figures: dict[str, Any]) -> Counts:
        return cls(*(int(figures[key]) for key in ("expected", "submitted", "on_time", "late", "pending")))


@dataclass
class Child:
    code: str
    name: str
    counts: Counts
    href: str


@dataclass
class Missing:
    code: str
    name: str
    state: str  # "not_yet", "pending" or "rejected"


@dataclass
class UnitFacts:
    name: str
    pending: bool
    rejected: bool


@dataclass
class StatusView:
    who: Principal
    period: Period
    unit: Unit
    form: str
    form_title: str
    forms: list[tuple[str, str]]
    deadline: str
    late_until: str | None
    level_deadlines: list[tuple[str, str]]
    time_left: tuple[str, str]
    updated_at: str
    totals: Counts
    own_state: str | None
    children: list[Child]
    missing: list[Missing] | None
    missing_count: int
    trail: list[tuple[str, str, str]] = field(default_factory=list)  # (code, name, href) root first

    @property
    def parent(self) -> tuple[str, str, str] | None:
        return self.trail[-1] if self.trail else None


def _build(who: Principal, period: Period, unit: Unit, form: str) -> StatusView:
    figures = completeness(db(), period, unit, form)
    missing: list[str] = figures["missing"]
    listed = missing if len(missing) <= MISSING_LIST_LIMIT else None
    ancestors = _visible_ancestors(who, unit)
    nameless = [child["unit"] for child in figures["children"] if not child.get("name")]
    facts = _facts(period, form, [unit.code, *ancestors, *nameless, *(listed or [])])

    def link(code: str) -> str:
        return url_for("status.page", period_code=period.code, unit=code, form=form)

    def name(code: str) -> str:
        return facts[code].name if code in facts else code

    children = [
        Child(child["unit"], child.get("name") or name(child["unit"]), Counts.of(child), link(child["unit"]))
        for child in figures["children"]
    ]
    totals = Counts.of(figures)
    version = services().forms.in_effect(form, period.ends_on)
    grace = dt.timedelta(seconds=period.grace_seconds)
    return StatusView(
        who=who,
        period=period,
        unit=unit,
        form=form,
        form_title=version.title if version else "",
        forms=[
            (code, url_for("status.page", period_code=period.code, unit=unit.code, form=code)) for code in period.forms
        ],
        deadline=describe_deadline(period.due_at),
        late_until=describe_deadline(period.due_at + grace) if grace else None,
        level_deadlines=[(due.level, describe_deadline(due.due_at)) for due in period.dues],
        time_left=_time_left(period.due_at, grace),
        updated_at=describe_deadline(utcnow()),
        totals=totals,
        own_state=_own_state(unit.code, totals, [child.counts for child in children], facts),
        children=children,
        missing=None if listed is None else [Missing(c, name(c), _missing_state(facts.get(c))) for c in listed],
        missing_count=len(missing),
        trail=[(code, name(code), link(code)) for code in ancestors],
    )


def _visible_ancestors(who: Principal, unit: Unit) -> list[str]:
    """The unit's ancestors the caller may open, root first (none above the caller's unit)."""
    codes = path_codes(unit.path)
    paths = ["/" + "/".join(codes[: i + 1]) + "/" for i in range(len(codes) - 1)]
    return [path_codes(path)[-1] for path in paths if who.covers(path)]


def _facts(period: Period, form: str, codes: list[str]) -> dict[str, UnitFacts]:
    """Names, and whether a version is pending or was rejected, for the given units: one query."""
    if not codes:
        return {}

    def flag(condition: sa.ColumnElement[bool]) -> Any:
        return sa.func.max(sa.case((condition, 1), else_=0))

    stmt = (
        sa.select(
            Unit.code, Unit.name, flag(Submission.status.in_(PENDING)), flag(Submission.status == Status.REJECTED)
        )
        .outerjoin(
            Submission,
            sa.and_(Submission.unit_id == Unit.id, Submission.period_id == period.id, Submission.form_code == form),
        )
        .where(Unit.code.in_(set(codes)))
        .group_by(Unit.code, Unit.name)
    )
    rows = db().execute(stmt).all()
    return {code: UnitFacts(name, bool(pending), bool(rejected)) for code, name, pending, rejected in rows}


def _missing_state(facts: UnitFacts | None) -> str:
    if facts is not None and facts.pending:
        return "pending"
    if facts is not None and facts.rejected:
        return "rejected"
    return "not_yet"


def _own_state(code: str, totals: Counts, children: list[Counts], facts: dict[str, UnitFacts]) -> str | None:
    """The unit's own report: what the totals hold beyond its children's (None when it reports to nobody)."""
    rest = {
        key: getattr(totals, key) - sum(getattr(child, key) for child in children)
        for key in ("expected", "on_time", "late")
    }
    if rest["expected"] < 1:
        return None
    if rest["on_time"]:
        return "on_time"
    if rest["late"]:
        return "late"
    return _missing_state(facts.get(code))


def _time_left(due: dt.datetime, grace: dt.timedelta) -> tuple[str, str]:
    """How long until the deadline, or until late reports stop being accepted."""
    left = due - utcnow()
    if left > dt.timedelta(0):
        return f"còn {_span(left)}", f"{_span(left, english=True)} left"
    if left + grace > dt.timedelta(0):
        late = left + grace
        return f"đã quá hạn; còn nhận nộp trễ {_span(late)}", f"past due; late reports accepted for {_span(late, True)}"
    return "đã khóa sổ", "closed"


def _span(delta: dt.timedelta, english: bool = False) -> str:
    minutes = int(delta.total_seconds()) // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    units = ("d", "h", "min") if english else ("ngày", "giờ", "phút")
    parts = [f"{n} {u}" for n, u in zip((days, hours, minutes), units, strict=True) if n]
    return " ".join(parts[:2]) or ("< 1 min" if english else "< 1 phút")


# --- answers -------------------------------------------------------------------------


def _html(body: str, status: int) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers.update(SECURITY_HEADERS)
    return response


def _error_page(error: PageError) -> Response:
    vi, en = TITLES.get(error.status, ("Lỗi", "Error"))
    period_code = (request.view_args or {}).get("period_code", "")
    kept = _kept_args()
    body = render_template(
        "status/error.html",
        status=error.status,
        title_vi=vi,
        title_en=en,
        error=error,
        sign_in=error.status == 401 and bool(period_code),
        period_code=period_code,
        # The same page without any token: where the sign-in form posts and "reload" goes.
        action=url_for("status.page", period_code=period_code, **kept) if period_code else "",
    )
    response = _html(body, error.status)
    if error.status == 401 and COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path=bp.url_prefix or "/", httponly=True, samesite="Strict")
    return response


@bp.errorhandler(PageError)
def _page_error(error: PageError) -> Response:
    return _error_page(error)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    return _error_page(PageError(error.status, error.detail, error.detail))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    return _error_page(PageError(status, error.name, error.description or error.name))


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    log.exception("status page failed")
    return _error_page(
        PageError(
            500,
            "Đã có lỗi phía máy chủ; đã ghi lại, hãy thử lại.",
            "Something failed on our side; it is logged, try again.",
        )
    )
