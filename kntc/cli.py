"""The ``kntc`` command: database, units, accounts, periods, receipts and the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from kntc.settings import Settings


class CommandError(Exception):
    """A one-line message for stderr; the command exits non-zero."""


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    from kntc.migrate import upgrade

    upgrade(settings)
    print("database is at the latest schema")


def cmd_units_import(args: argparse.Namespace, settings: Settings) -> None:
    from models.unit_import import import_units, parse_csv

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {args.file} as UTF-8 CSV: {error}") from None
    with _session(settings) as session:
        result = import_units(session, parse_csv(text))
        session.commit()
    print(f"imported {result.created + result.updated} units ({result.created} new, {result.updated} updated)")


def cmd_accounts_create(args: argparse.Namespace, settings: Settings) -> None:
    import sqlalchemy as sa

    from models.accounts import Account, validate_role
    from models.auth import issue_token
    from models.units import Unit

    role = validate_role(args.role)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if args.password_stdin and not password:
        raise CommandError("--password-stdin: no password on standard input")
    with _session(settings) as session:
        unit = session.scalar(sa.select(Unit).where(Unit.code == args.unit))
        if unit is None:
            raise CommandError(f"no unit {args.unit!r}; import units first (kntc units import)")
        if session.scalar(sa.select(Account.id).where(Account.username == args.username)):
            raise CommandError(f"account {args.username!r} exists already")
        account = Account(username=args.username, unit_id=unit.id, role=role.value)
        if password:
            account.set_password(password)
        session.add(account)
        session.flush()
        token = issue_token(session, account, kind="api", lifetime=None)[0] if args.token else None
        session.commit()
    print(token if token else f"created account {args.username} ({role.value} of {args.unit})")


def cmd_periods_create(args: argparse.Namespace, settings: Settings) -> None:
    import sqlalchemy as sa

    from models.forms import catalogue
    from models.periods import Period, new_period, parse_duration, parse_instant

    missing = [name for name in ("starts", "ends", "due") if getattr(args, name) is None]
    if missing:
        raise CommandError(f"periods create needs --{', --'.join(missing)}")
    forms = catalogue()
    period = new_period(
        code=args.code,
        starts_on=_date("--starts", args.starts),
        ends_on=_date("--ends", args.ends),
        due_at=parse_instant("--due", args.due),
        dues=dict(_due_for(item) for item in args.due_for),
        grace=parse_duration(args.grace),
        forms=[f.strip() for f in args.forms.split(",")]
        if args.forms
        else forms.codes_in_effect(_date("--ends", args.ends)),
        known_forms=forms.codes,
    )
    with _session(settings) as session:
        if session.scalar(sa.select(Period.id).where(Period.code == args.code)):
            raise CommandError(f"period {args.code} exists already")
        session.add(period)
        session.commit()
    print(
        f"created period {args.code}: data {args.starts} to {args.ends}, due {args.due}, "
        f"forms {', '.join(period.forms)}"
    )


def cmd_receipts_verify(args: argparse.Namespace, settings: Settings) -> None:
    from models.receipts import verify

    try:
        receipt = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read {args.file} as a JSON receipt: {error}") from None
    if not isinstance(receipt, dict):
        raise CommandError(f"{args.file} is not a receipt (a JSON object)")
    public_key = _public_key(args.public_key, settings)
    if not verify(receipt, public_key):
        raise CommandError("INVALID: the signature does not match the receipt's contents")
    print(f"valid: submission {receipt.get('submission_id')} received {receipt.get('received_at')}")


def _public_key(given: str | None, settings: Settings) -> bytes:
    """The key to verify with: one given on the command line, else this installation's own."""
    import base64
    import binascii

    from models.receipts import existing_public_key

    if given:
        try:
            key = base64.b64decode(given, validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise CommandError("--public-key must be the standard base64 of a raw 32-byte Ed25519 key")
        return key
    own = existing_public_key(settings.signing_key_pem, settings.data_dir)
    if own is None:
        raise CommandError("no signing key here; pass --public-key (from GET /api/v1/receipts/public-key)")
    return own


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from kntc.demo import run_demo

    run_demo(settings, units_limit=args.communes)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> None:
    import signal
    import threading

    from kntc.logs import configure_logging
    from kntc.scheduler import run

    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        run(settings, stop, poll_seconds=args.poll)
    except RuntimeError as error:
        raise CommandError(str(error)) from None


def _date(flag: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def _due_for(item: str) -> tuple[str, dt.datetime]:
    from models.periods import parse_instant

    level, sep, at = item.partition("=")
    if not sep or not level:
        raise CommandError(f"--due-for {item!r}: write LEVEL=ISO8601, e.g. commune=2026-12-16T17:00+07:00")
    return level.strip().lower(), parse_instant(f"--due-for {level}", at)


def _session(settings: Settings):  # type: ignore[no-untyped-def]
    from models.db import make_engine, make_sessionmaker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_sessionmaker(make_engine(settings.sqlalchemy_url, pool_size=1))()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kntc", description="KNTC: national complaints and denunciations database")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def command(group: str, name: str | None, func: Callable[..., None], help_text: str) -> argparse.ArgumentParser:
        if name is None:
            sub = groups.add_parser(group, help=help_text, description=help_text)
        else:
            holder = _group(groups, group)
            sub = holder.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func)
        return sub

    command("db", "upgrade", cmd_db_upgrade, "apply every database migration (Alembic)")
    p = command(
        "units", "import", cmd_units_import, "import or update units from a UTF-8 CSV: code,name,parent_code,level"
    )
    p.add_argument("file", metavar="FILE.csv")
    p = command("accounts", "create", cmd_accounts_create, "create an account with a role over its unit's subtree")
    p.add_argument("--username", required=True)
    p.add_argument("--unit", required=True, help="code of the account's unit")
    p.add_argument("--role", required=True, help="admin, leader, officer, reporter or viewer")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.add_argument("--token", action="store_true", help="print a new API token, and only that, on stdout")
    p = command("periods", "create", cmd_periods_create, "create a reporting period")
    p.add_argument("--code", required=True, help="e.g. 2026-Q4")
    p.add_argument("--starts", help="first day of data, YYYY-MM-DD")
    p.add_argument("--ends", help="last day of data, YYYY-MM-DD")
    p.add_argument("--due", help="deadline, ISO 8601 (no offset: Vietnam time)")
    p.add_argument("--due-for", action="append", default=[], metavar="LEVEL=ISO8601", help="a level's own deadline")
    p.add_argument("--grace", default="0s", help="how long after the deadline a report is still accepted, e.g. 48h")
    p.add_argument("--forms", help="comma-separated form codes (default: every form in effect)")
    p = command("receipts", "verify", cmd_receipts_verify, "verify a receipt offline; exit 0 when valid")
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("--public-key", help="base64 Ed25519 public key (default: this installation's signing key)")
    p = command("scheduler", None, cmd_scheduler, "send the periodic jobs (overdue and stuck flags) to the workers")
    p.add_argument("--poll", type=float, default=5.0, help="seconds between looks at the clock (default 5)")
    p = command("demo", None, cmd_demo, "run a national deadline surge on the embedded defaults and print the table")
    p.add_argument("--communes", type=int, default=None, help="use only this many communes (a quicker run)")
    return parser


_subgroups: dict[str, argparse._SubParsersAction] = {}


def _group(groups: argparse._SubParsersAction, name: str) -> argparse._SubParsersAction:
    if name not in _subgroups:
        parent = groups.add_parser(name, help=f"{name} commands", description=f"{name} commands")
        _subgroups[name] = parent.add_subparsers(dest="action", required=True, metavar="ACTION")
    return _subgroups[name]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        args.func(args, settings)
    except CommandError as error:
        print(f"kntc: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # one clear line, never a traceback, for any failure
        from models.errors import DomainError

        message = error.detail if isinstance(error, DomainError) else f"{type(error).__name__}: {error}"
        print(f"kntc: {message}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
