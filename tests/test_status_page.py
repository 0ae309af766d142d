"""The period status page (/status/<period>): who has reported, as HTML for people at deadline night.

First through Flask's test client, parsing the HTML; then in a real headless Chromium
against a real server, on a phone-sized window: the DOM it renders, a screenshot kept
in tests/artifacts/, and the page's width measured by the browser itself.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import INVALID_TCD, ROOT, World, auth, free_port, submission, submit
from werkzeug.serving import make_server

from models.periods import describe_deadline

ARTIFACTS = ROOT / "tests" / "artifacts"
PAGE = "/status/2026-Q4"
EVIL = 'Xã <script>alert("x")</script> & <b>Đông</b>'
# Besides UNITS_CSV: a commune whose name is markup.
MORE_UNITS = f"""code,name,parent_code,level
P01.X9,"{EVIL.replace('"', '""')}",P01,commune
"""
PHONE_WIDTH = 390


# --- a small DOM from the stdlib's parser ---------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def all(self, tag: str, **attrs: str) -> list[Node]:
        """Every element below with this tag and these attribute values (``class_`` for class)."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(child.attrs.get(k) == v for k, v in wanted.items()):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())


VOID = {"meta", "link", "br", "hr", "img", "input", "source", "wbr"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def counts(doc: Node) -> dict[str, int]:
    return {dd.attrs["data-count"]: int(dd.text()) for dd in doc.all("dd") if "data-count" in dd.attrs}


def rows(doc: Node) -> dict[str, dict[str, Any]]:
    """The children table: per unit code, its name, link and every counted column."""
    table = doc.one("table", id="children")
    found = {}
    for tr in table.one("tbody").all("tr"):
        link = tr.one("th", scope="row").one("a")
        cells = {td.attrs["data-col"]: td for td in tr.all("td")}
        percent = next(c for c in cells["percent"].children if isinstance(c, str)).strip()
        found[tr.attrs["data-unit"]] = {
            "name": link.text(),
            "href": link.attrs["href"],
            **{key: int(td.text()) for key, td in cells.items() if key != "percent"},
            "percent": percent,
        }
    return found


def missing(doc: Node) -> dict[str, str]:
    """The list of units without an accepted report: code -> its line's text."""
    return {li.attrs["data-unit"]: li.text() for li in doc.one("ol", id="missing").all("li")}


def get(client: FlaskClient, path: str = PAGE, token: str | None = None, **query: str) -> Any:
    return client.get(path, query_string=query, headers=auth(token))


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


# --- the data --------------------------------------------------------------------------


@pytest.fixture
def reported(client: FlaskClient, world: World, drain: Callable[..., None]) -> World:
    """P01.X1 on time, P01.X2 late, P01 rejected, P02.X1 queued; P01.X9 and P02 nothing."""
    world.units(MORE_UNITS)
    token = world.tokens["admin"]
    assert submit(client, token, submission(unit="P01.X1"))[0] == 202
    assert submit(client, token, submission(unit="P01", figures=INVALID_TCD))[0] == 202
    past_due = {"due": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(), "grace": "48h"}
    assert (
        client.patch(PAGE.replace("/status", "/api/v1/periods"), json=past_due, headers=auth(token)).status_code == 200
    )
    assert submit(client, token, submission(unit="P01.X2"))[1]["receipt"]["on_time"] is False
    drain()
    assert submit(client, token, submission(unit="P02.X1"))[0] == 202  # no worker runs after this one
    return world


def due_of(client: FlaskClient, world: World) -> dt.datetime:
    period = client.get("/api/v1/periods/2026-Q4", headers=auth(world.tokens["admin"])).get_json()
    return dt.datetime.fromisoformat(period["due"])


# --- the page, through the test client -------------------------------------------------


def test_the_root_page_counts_the_whole_tree(client: FlaskClient, reported: World) -> None:
    response = get(client, token=reported.tokens["admin"])
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    doc = parse(response.get_data(as_text=True))

    assert doc.one("html").attrs["lang"] == "vi"
    assert doc.one("meta", name="viewport").attrs["content"] == "width=device-width, initial-scale=1"
    assert doc.one("meta", http_equiv="refresh").attrs["content"] == "30"
    assert "Tình hình nộp báo cáo" in doc.one("h1").text()
    assert "Report status" in doc.one("h1").text()
    assert doc.one("dd", id="period").text() == "2026-Q4"
    deadline = doc.one("time", id="deadline")
    assert deadline.text() == describe_deadline(due_of(client, reported)) == deadline.attrs["datetime"]
    assert deadline.text().endswith("+07:00")
    assert doc.one("strong", id="unit-name").text() == "Thanh tra Chính phủ"
    # VN reports to nobody: 6 units below it are expected.
    assert counts(doc) == {"expected": 6, "on_time": 1, "late": 1, "pending": 1, "not_yet": 3}
    assert (doc.one("strong", id="reported").text(), doc.one("strong", id="percent").text()) == ("2/6", "33%")
    assert doc.one("div", id="progress").attrs["role"] == "img"
    assert doc.all("p", id="own-state") == []  # the root reports to nobody
    assert doc.all("a", id="up") == []


def test_a_row_per_child_with_a_link_down_the_tree(client: FlaskClient, reported: World) -> None:
    doc = parse(get(client, token=reported.tokens["admin"]).get_data(as_text=True))
    table = rows(doc)

    assert list(table) == ["P01", "P02"]
    p01, p02 = table["P01"], table["P02"]
    assert p01["name"] == "UBND tỉnh Tây Ninh"
    assert {k: p01[k] for k in ("expected", "on_time", "late", "pending", "not_yet", "percent")} == {
        "expected": 4,
        "on_time": 1,
        "late": 1,
        "pending": 0,
        "not_yet": 2,
        "percent": "50%",
    }
    assert {k: p02[k] for k in ("expected", "on_time", "late", "pending", "not_yet", "percent")} == {
        "expected": 2,
        "on_time": 0,
        "late": 0,
        "pending": 1,
        "not_yet": 1,
        "percent": "0%",
    }
    assert urlsplit(p01["href"]).path == PAGE
    assert query_of(p01["href"]) == {"unit": ["P01"], "form": ["01/TCD"]}
    headers = doc.one("table", id="children").one("thead").all("th")
    assert headers and all(th.attrs.get("scope") == "col" for th in headers)
    # Pending and rejected units are listed with what holds them up.
    listed = missing(doc)
    assert list(listed) == ["P01", "P01.X9", "P02", "P02.X1"]
    assert "Bị từ chối" in listed["P01"]
    assert "Đang xử lý" in listed["P02.X1"]
    assert listed["P02"] == "P02 UBND tỉnh Đồng Tháp"


def test_following_a_child_link_shows_its_subtree_and_a_link_up(client: FlaskClient, reported: World) -> None:
    root = parse(get(client, token=reported.tokens["admin"]).get_data(as_text=True))
    response = client.get(rows(root)["P01"]["href"], headers=auth(reported.tokens["admin"]))
    assert response.status_code == 200
    doc = parse(response.get_data(as_text=True))

    assert doc.one("strong", id="unit-name").text() == "UBND tỉnh Tây Ninh"
    assert counts(doc) == {"expected": 4, "on_time": 1, "late": 1, "pending": 0, "not_yet": 2}
    table = rows(doc)
    assert list(table) == ["P01.X1", "P01.X2", "P01.X9"]
    assert [table[code]["percent"] for code in table] == ["100%", "100%", "0%"]
    up = doc.one("a", id="up")
    assert "Thanh tra Chính phủ" in up.text()
    assert query_of(up.attrs["href"])["unit"] == ["VN"]
    # P01's own report was rejected: the page says so apart from its communes.
    assert "Bị từ chối" in doc.one("p", id="own-state").text()


def test_unit_names_are_escaped(client: FlaskClient, reported: World) -> None:
    response = get(client, token=reported.tokens["admin"], unit="P01")
    html = response.get_data(as_text=True)

    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html
    doc = parse(html)
    assert doc.all("script") == []
    assert doc.all("b") == []
    assert rows(doc)["P01.X9"]["name"] == EVIL  # shown as text, exactly
    assert EVIL in missing(doc)["P01.X9"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no script at all


def test_the_default_unit_is_the_callers_and_the_form_can_be_chosen(client: FlaskClient, reported: World) -> None:
    doc = parse(get(client, token=reported.tokens["p01-admin"]).get_data(as_text=True))
    assert doc.one("span", id="unit-code").text() == "P01"
    # The trail stops at the caller's unit: there is no link up to VN.
    assert doc.all("a", id="up") == []

    other = parse(get(client, token=reported.tokens["admin"], unit="P01", form="2a").get_data(as_text=True))
    assert doc.one("dd", id="form").text().startswith("01/TCD")
    assert other.one("dd", id="form").text().startswith("2a")
    assert counts(other) == {"expected": 4, "on_time": 0, "late": 0, "pending": 0, "not_yet": 4}


def test_the_default_form_is_01_tcd_or_else_the_periods_first(client: FlaskClient, world: World) -> None:
    world.period("2027/Q1", forms=["2a"])
    world.period("2027-Q2", forms=["2a", "01/TCD"])
    token = world.tokens["admin"]

    only_2a = parse(get(client, "/status/2027/Q1", token, form="").get_data(as_text=True))
    assert only_2a.one("dd", id="form").text().startswith("2a")
    both = parse(get(client, "/status/2027-Q2", token).get_data(as_text=True))
    assert both.one("dd", id="form").text().startswith("01/TCD")
    switch = {a.text(): a.attrs["href"] for a in both.one("nav", class_="forms meta").all("a")}
    assert query_of(switch["2a"]) == {"unit": ["VN"], "form": ["2a"]}


def test_a_closed_child_still_gets_its_name(client: FlaskClient, world: World) -> None:
    today = dt.datetime.now(dt.UTC).date()
    world.units(
        f"""code,name,parent_code,level,opened_on,closed_on
P01.D1,UBND huyện Cũ,P01,district,,{today - dt.timedelta(days=200)}
P01.D1.X1,UBND xã Còn Lại,P01.D1,commune,,
"""
    )
    doc = parse(get(client, token=world.tokens["admin"], unit="P01").get_data(as_text=True))
    assert rows(doc)["P01.D1"]["name"] == "UBND huyện Cũ"
    assert missing(doc)["P01.D1.X1"] == "P01.D1.X1 UBND xã Còn Lại"


def test_a_long_list_of_missing_units_is_not_shown(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import status

    monkeypatch.setattr(status, "MISSING_LIST_LIMIT", 4)
    doc = parse(get(client, token=world.tokens["admin"]).get_data(as_text=True))
    assert doc.all("ol", id="missing") == []
    assert doc.one("p", id="missing-too-many")
    assert "(5)" in doc.one("h2", id="missing-heading").text()


# --- who may see it --------------------------------------------------------------------


def test_without_a_token_a_page_explains_how_to_sign_in(client: FlaskClient, world: World) -> None:
    for response in (get(client), get(client, token="not-a-token")):
        assert response.status_code == 401
        assert response.mimetype == "text/html"
        doc = parse(response.get_data(as_text=True))
        assert doc.one("html").attrs["lang"] == "vi"
        assert doc.one("meta", name="viewport")
        assert "/api/v1/auth/login" in doc.text()
        form = doc.one("form")
        assert (form.attrs["method"], form.attrs["action"]) == ("post", PAGE)
        assert form.one("input", name="token").attrs["type"] == "password"


def test_a_unit_outside_the_callers_subtree_is_forbidden(client: FlaskClient, reported: World) -> None:
    response = get(client, token=reported.tokens["p02-admin"], unit="P01")
    assert response.status_code == 403
    doc = parse(response.get_data(as_text=True))
    assert "P01" in doc.one("p", id="detail").text()
    assert "UBND tỉnh Tây Ninh" not in doc.text()  # nothing of P01 leaks
    assert [a.attrs["href"] for a in doc.all("a")] == [PAGE]  # a way back to the caller's own unit
    assert get(client, token=reported.tokens["x1-reporter"], unit="P01").status_code == 403
    assert get(client, token=reported.tokens["viewer"], unit="P01").status_code == 200


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/status/1999-Q1", {}),
        ("/status/2026-Q4", {"unit": "NOPE"}),
        ("/status/2026-Q4", {"form": "XX"}),
        ("/status/2026-Q4", {"unit": "P01\x00"}),
        ("/status/2026-Q4%00", {}),
        ("/status/" + "Q" * 500, {}),
        ("/status/2026-Q4", {"unit": "P" * 5000}),
        ("/status/%E2%80%AE", {"unit": "<b>"}),
        ("/status/2026-Q4/more", {}),
    ],
)
def test_unknown_periods_units_and_forms_are_404_pages(
    client: FlaskClient, world: World, path: str, query: dict[str, str]
) -> None:
    response = get(client, path, token=world.tokens["admin"], **query)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    doc = parse(response.get_data(as_text=True))
    assert "Không tìm thấy" in doc.one("h1").text()
    assert doc.all("b") == []


def test_a_token_in_the_url_moves_into_a_cookie(client: FlaskClient, reported: World) -> None:
    token = reported.tokens["p01-admin"]
    response = client.get(f"{PAGE}?unit=P01.X1&token={token}")

    assert response.status_code == 302
    location = response.headers["Location"]
    assert token not in location
    assert (urlsplit(location).path, query_of(location)) == (PAGE, {"unit": ["P01.X1"]})
    cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert cookie.startswith(f"kntc_status_token={token};")
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Strict"
    assert attributes["path"] == "Path=/status"

    # The test client keeps the cookie, as a browser would: later loads need no token.
    page = client.get(location)
    assert page.status_code == 200
    assert parse(page.get_data(as_text=True)).one("span", id="unit-code").text() == "P01.X1"
    assert client.get(PAGE).status_code == 200
    # The cookie does not reach the API: it stays a Bearer-token API.
    assert client.get("/api/v1/periods/2026-Q4").status_code == 401


def test_a_token_link_from_another_site_moves_on_by_itself(client: FlaskClient, reported: World) -> None:
    # A redirected request would not carry the SameSite=Strict cookie when the link was
    # followed from another site; a page that moves on makes the next request same-site.
    token = reported.tokens["admin"]
    response = client.get(f"{PAGE}?unit=P01&token={token}", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200
    assert "SameSite=Strict" in response.headers["Set-Cookie"]
    doc = parse(response.get_data(as_text=True))
    refresh = doc.one("meta", http_equiv="refresh").attrs["content"]
    assert refresh == "0; url=/status/2026-Q4?unit=P01"
    assert doc.one("a", id="continue").attrs["href"] == "/status/2026-Q4?unit=P01"
    assert token not in response.get_data(as_text=True)


def test_a_bad_token_sets_no_cookie_and_a_stale_cookie_is_dropped(client: FlaskClient, reported: World) -> None:
    bad = client.get(f"{PAGE}?token=nope")
    assert bad.status_code == 401
    assert "Set-Cookie" not in bad.headers

    client.set_cookie("kntc_status_token", "revoked-or-expired", path="/status")
    stale = client.get(PAGE)
    assert stale.status_code == 401
    assert stale.headers["Set-Cookie"].startswith("kntc_status_token=;")
    assert client.get_cookie("kntc_status_token", path="/status") is None


def test_the_sign_in_form_sets_the_cookie_too(client: FlaskClient, reported: World) -> None:
    response = client.post(f"{PAGE}?unit=P01", data={"token": reported.tokens["p01-admin"]})
    assert response.status_code == 303
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.post(PAGE, data={"token": "nope"}).status_code == 401


# --- in a real browser, on a phone ------------------------------------------------------


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "`chromium` is not installed: apt-get install -y chromium (Debian package chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
        pytest.skip(message)
    return path


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={PHONE_WIDTH},844",
]


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test app on a real HTTP server in a thread; its base URL."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def browse(binary: str, tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    result = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


class Tab:
    """One page of a headless Chromium driven over the DevTools pipe (JSON messages ending in NUL)."""

    def __init__(self, out: Any, inp: Any) -> None:
        self.out, self.messages, self.ids = out, _messages(inp), iter(range(1, 10_000))
        target = self.send("Target.createTarget", url="about:blank")["result"]["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["result"]["sessionId"]

    def send(self, method: str, *, in_page: bool = False, **params: Any) -> dict[str, Any]:
        """The answer to one command (``result`` or ``error``); events meanwhile are dropped."""
        message_id = next(self.ids)
        body = {"id": message_id, "method": method, "params": params}
        if in_page:
            body["sessionId"] = self.session
        self.out.write(json.dumps(body).encode() + b"\0")
        self.out.flush()
        for message in self.messages:
            if message.get("id") == message_id:
                return message  # type: ignore[no-any-return]
        raise AssertionError(f"Chromium closed the DevTools pipe before answering {method}")

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", in_page=True, expression=expression, returnByValue=True)
        return answer.get("result", {}).get("result", {}).get("value")

    def open(self, url: str, settles_at: str, timeout_s: float = 30) -> None:
        """Go to ``url`` and wait until redirects and refreshes end on ``settles_at``, fully loaded."""
        assert "error" not in self.send("Page.navigate", in_page=True, url=url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # Mid-navigation the page has no context to evaluate in: that answer is an error, not a value.
            if self.evaluate("[location.pathname + location.search, document.readyState]") == [settles_at, "complete"]:
                return
            time.sleep(0.1)
        raise AssertionError(f"the browser did not settle at {settles_at} in {timeout_s}s")


@contextmanager
def devtools(binary: str, profile: Path) -> Iterator[Tab]:
    """A headless Chromium on a phone-sized screen, as a tab to drive."""
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # Chromium reads commands on fd 3 and writes answers on fd 4. Copies above 10 first,
    # so that moving them to 3 and 4 in the child cannot overwrite one with the other.
    child_r, child_w = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)

    def wire() -> None:
        os.dup2(child_r, 3)
        os.dup2(child_w, 4)

    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"],
        pass_fds=(3, 4),
        preexec_fn=wire,  # noqa: PLW1509 (the child only moves two descriptors before exec: no lock is taken)
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for fd in (to_chrome_r, from_chrome_w, child_r, child_w):
        os.close(fd)
    with os.fdopen(to_chrome_w, "wb") as out, os.fdopen(from_chrome_r, "rb") as inp:
        try:
            tab = Tab(out, inp)
            # A phone: 390 CSS pixels wide, and the page's viewport meta is what makes it fit.
            metrics = {"width": PHONE_WIDTH, "height": 844, "deviceScaleFactor": 1, "mobile": True}
            assert "error" not in tab.send("Emulation.setDeviceMetricsOverride", in_page=True, **metrics)
            yield tab
        finally:
            proc.kill()
            proc.wait(timeout=30)


def _messages(stream: Any) -> Iterator[dict[str, Any]]:
    buffer = b""
    while chunk := stream.read1(65536):
        buffer += chunk
        while b"\0" in buffer:
            raw, buffer = buffer.split(b"\0", 1)
            yield json.loads(raw)


@pytest.mark.slow
def test_in_headless_chromium_on_a_phone(reported: World, served: str, tmp_path: Path) -> None:
    binary = chromium()
    # The browser comes in with the token in the URL, as a link would bring it: the redirect
    # and the cookie happen for real before the DOM is dumped.
    url = f"{served}{PAGE}?token={reported.tokens['admin']}"

    doc = parse(browse(binary, tmp_path, "--dump-dom", url))
    assert doc.one("strong", id="unit-name").text() == "Thanh tra Chính phủ"
    assert counts(doc) == {"expected": 6, "on_time": 1, "late": 1, "pending": 1, "not_yet": 3}
    table = rows(doc)
    assert list(table) == ["P01", "P02"]
    assert (table["P01"]["percent"], table["P02"]["not_yet"]) == ("50%", 1)
    assert list(missing(doc)) == ["P01", "P01.X9", "P02", "P02.X1"]
    assert doc.all("script") == []  # the unit named with markup stays text in a real browser too

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-page-phone.png"
    shot.unlink(missing_ok=True)
    browse(binary, tmp_path, f"--screenshot={shot}", url)
    assert shot.is_file()
    assert png_size(shot) == (PHONE_WIDTH, 844)

    # Nothing sticks out sideways on a 390px phone: no horizontal scrolling.
    with devtools(binary, tmp_path / "profile-devtools") as tab:
        tab.open(url, settles_at=PAGE)
        assert tab.evaluate("document.querySelectorAll('#children tbody tr').length") == 2
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


@pytest.fixture
def other_site() -> Iterator[Callable[[str], str]]:
    """Another site (localhost, not 127.0.0.1) whose page sends the browser on to a URL."""
    target: list[str] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [f'<!doctype html><meta http-equiv="refresh" content="0; url={target[0]}">'.encode()]

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def page_leading_to(url: str) -> str:
        target[:] = [url]
        return f"http://localhost:{server.server_port}/"

    yield page_leading_to
    server.shutdown()
    thread.join(timeout=10)


@pytest.mark.slow
def test_in_headless_chromium_a_token_link_from_another_site(
    reported: World, served: str, other_site: Callable[[str], str], tmp_path: Path
) -> None:
    binary = chromium()
    start = other_site(f"{served}{PAGE}?unit=P01&token={reported.tokens['admin']}")
    with devtools(binary, tmp_path / "profile") as tab:
        tab.open(start, settles_at=f"{PAGE}?unit=P01")
        doc = parse(tab.evaluate("document.documentElement.outerHTML"))
    assert doc.one("span", id="unit-code").text() == "P01"
    assert list(rows(doc)) == ["P01.X1", "P01.X2", "P01.X9"]
