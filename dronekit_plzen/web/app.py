"""The crisis staff web portal: a FastAPI application on the flight database.

Server-rendered Jinja2 pages (autoescaped), one small script per map page, no inline scripts
(the Content-Security-Policy forbids them). Every handler opens its own store connection (WAL
mode: the recorder and the GUI write the same file at the same time), so the database is never
shared between threads. Nothing here reaches a vehicle: the portal reads what the recorder
wrote and changes requests, deployments and accounts only.

Access: requesters see and file their organisation's requests (and cancel them); pilots and
admins see all and answer them; admins also read the audit log and manage accounts. Another
organisation's request answers 404 (its existence is not disclosed); an action outside the
role answers 403; a form without this session's CSRF token answers 403. A signed-out session
stays signed out (the ``logout`` entry of the audit log), even from a copy of its cookie.

Limits (see :class:`_BodyLimit`): a body over ``max_body_bytes`` is a 413 before it is read, one
still arriving after ``body_timeout_s`` a 408; a form takes no file and at most
:data:`MAX_FORM_FIELDS` fields. Every error, the framework's 404 and 405 too, is a page (JSON
under ``/api/``, ``/opendata/``, ``/tiles/``) in the reader's language.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dronekit_plzen.errors import BadInputError, StorageError
from dronekit_plzen.i18n import LANGUAGES, translations
from dronekit_plzen.web import accounts, auth, opendata
from dronekit_plzen.web.auth import User
from dronekit_plzen.web.forms import check_name, check_text, validate_request
from dronekit_plzen.web.results import Overlay, render_overlay
from dronekit_plzen.web.tiles import TileService
from telemetry import requests as rq
from telemetry.indicator import REPORT_YEARS
from telemetry.requests import LABELS, label
from telemetry.schema import utc_now_iso
from telemetry.store import Store, open_store

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
STATIC_DIR = HERE / "static"
LEAFLET_DIR = STATIC_DIR / "node_modules" / "leaflet" / "dist"
SESSION_COOKIE = "dkp_session"
SESSION_MAX_AGE_S = 12 * 3600
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


@dataclass
class WebSettings:
    """What :func:`create_app` needs; ``secret`` signs the session cookies."""

    db_path: Path
    secret: bytes
    secure_cookies: bool = False
    tiles: TileService | None = None
    tile_sources: tuple[str, ...] = ("osm", "cuzk-orto", "cuzk-zm")
    poll_interval_s: float = 3.0
    max_login_failures: int = 5  #: wrong passwords per (user name, address) in 10 min
    max_name_failures: int = 15  #: ... per user name from all addresses (ceiling, see login)
    max_address_failures: int = 20  #: failed sign-ins per client address in 10 min (any name)
    address_slots: int = 10_000  #: client addresses remembered for that (the oldest go first)
    #: the Host names the portal answers to (a DNS rebinding page sends its own); None: any
    #: (an app used in-process); ``serve`` always sets them
    allowed_hosts: tuple[str, ...] | None = None
    max_body_bytes: int = 1 << 20  #: a larger request body is refused (413) before it is read
    body_timeout_s: float = 30.0  #: a body not received in full by then is refused (408)
    extra: dict[str, Any] = field(default_factory=dict)


#: how long wrong passwords count towards the sign-in pause (the message says 10 minutes)
LOGIN_PAUSE_S = 600.0
#: request forms remembered as filed (a double click or a reload posts the same form again)
FILED_FORMS_KEPT = 2000
#: what a pilot's answer may hold (longer or more is refused, never cut silently)
MAX_PILOT, MAX_DRONE, MAX_DRONES, MAX_REASON = 120, 60, 10, 500
#: the years the open data covers (the indicator's range)
OPENDATA_YEARS = REPORT_YEARS
#: flash messages waiting for the next page, and their length (they live in the cookie)
MAX_FLASHES, MAX_FLASH_CHARS = 4, 300
#: the most fields a form of the portal posts (the request form has 16); files: none
MAX_FORM_FIELDS = 100
#: sign-ins of one user name are checked one at a time (the pause counts every wrong password;
#: parallel guesses had all passed the check before the first was counted): names share
#: these locks by a hash
LOGIN_LOCKS = 64
#: what a TIFF or BigTIFF file starts with (an orthophoto download serves nothing else)
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


class Page:
    """What every template gets: the language, the translator, the user, the CSRF token."""

    def __init__(self, request: Request, user: User | None):
        self.request = request
        self.user = user
        self.lang = _language(request)
        self._tr = translations(self.lang)
        self.csrf = _csrf_token(request)

    def t(self, message: str) -> str:
        return self._tr.gettext(message)

    def label(self, kind: str, code: str | None) -> str:
        return label(self.t, kind, code)

    def context(self, **values: Any) -> dict[str, Any]:
        flashes = self.request.session.pop("flash", [])
        return {
            "request": self.request,
            "user": self.user,
            "lang": self.lang,
            "t": self.t,
            "label": self.label,
            "labels": LABELS,
            "csrf": self.csrf,
            "flashes": flashes,
            "leaflet": LEAFLET_DIR.is_dir(),
            **values,
        }


def _language(request: Request) -> str:
    lang = request.session.get("lang")
    if lang in LANGUAGES:
        return str(lang)
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        code = part.split(";")[0].strip()[:2]
        if code in LANGUAGES:
            return code
    return "cs"


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = auth.new_csrf_token()
        request.session["csrf"] = token
    return str(token)


def _flash(request: Request, text: str, kind: str = "info") -> None:
    # assigned, not appended in place: the session is saved only when it sees a change, and a
    # second message before the next page (a form sent twice) would otherwise be lost. The
    # messages travel in the session cookie, which a browser drops beyond 4 kB (and the session
    # with it): a message quoting a posted value (an unknown state of 900 kB) is shortened,
    # and only the last few are kept
    if len(text) > MAX_FLASH_CHARS:
        text = text[: MAX_FLASH_CHARS - 1] + "…"
    kept = [*request.session.get("flash", []), {"kind": kind, "text": text}]
    request.session["flash"] = kept[-MAX_FLASHES:]


def _safe_next(target: str | None) -> str:
    """Only paths of this site (no scheme, no ``//host``) are followed after a redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/requests"
    return target


def create_app(settings: WebSettings) -> FastAPI:
    app = FastAPI(title="dronekit-plzen portal", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    overlays = _Overlays()
    filing = threading.Lock()  # a double click posts twice at once: one check-and-file at a time
    filed_forms: dict[tuple[int, str], int] = {}  # (user id, the form's form_id) → request id
    login_locks = [threading.Lock() for _ in range(LOGIN_LOCKS)]
    failed_from = auth.FailureWindow(
        settings.max_address_failures, LOGIN_PAUSE_S, max_keys=settings.address_slots
    )
    app.state.failed_from = failed_from  # the tests read and age it

    @contextmanager
    def store() -> Iterator[Store]:
        with open_store(settings.db_path) as s:
            yield s

    def current_user(request: Request, s: Store | None = None) -> User | None:
        uid, sid = request.session.get("uid"), request.session.get("sid")
        if not isinstance(uid, int) or not isinstance(sid, str):
            return None
        if s is None:
            with store() as s2:
                return signed_in_user(request, s2, uid, sid)
        return signed_in_user(request, s, uid, sid)

    def signed_in_user(request: Request, s: Store, uid: int, sid: str) -> User | None:
        """The session's user, or None when the account is gone or the session was signed out
        (its cookie, copied before, is then emptied: the cookie is signed, not stored, so the
        sign-out is remembered in the audit log for as long as such a cookie is accepted)."""
        row = rq.get_user_by_id(s, uid)
        if row is None:
            return None
        signed_out = s.query(
            "SELECT 1 FROM audit_log WHERE action = 'logout' AND at >= ? "
            "AND CASE WHEN json_valid(detail) THEN json_extract(detail, '$.session') END = ? "
            "LIMIT 1",
            (utc_now_iso(ago_s=SESSION_MAX_AGE_S + 60), sid),
        )
        seq = request.session.get("seq")
        if signed_out or accounts.session_revoked(
            s, uid, seq if isinstance(seq, int) else 0, SESSION_MAX_AGE_S
        ):  # signed out, or the account disabled or given a new password since
            request.session.clear()
            return None
        return User.from_row(row)

    def require_user(request: Request, s: Store | None = None) -> User:
        user = current_user(request, s)
        if user is None:
            raise _LoginRequired(request.url.path)
        return user

    def forbid(request: Request) -> HTTPException:
        return HTTPException(403, Page(request, None).t("your role does not allow this"))

    async def posted(request: Request) -> dict[str, str]:
        """The form's fields after the CSRF check (403 without this session's token)."""
        try:
            form = await request.form(
                max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=settings.max_body_bytes
            )
        except StarletteHTTPException:  # the parser's English: too many fields, a file, ...
            text = Page(request, None).t(
                "the form could not be read (malformed, a file attached or too many fields)"
            )
            raise HTTPException(400, text) from None
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        if not auth.check_csrf(request.session.get("csrf"), values.get("csrf_token")):
            raise HTTPException(403, Page(request, None).t("the form expired; reload the page"))
        return values

    def visible(user: User, s: Store, request_id: int) -> rq.MissionRequest:
        """The request if this user may see it; 404 for someone else's (not disclosed) and
        for an id no SQLite row can have (beyond its 64-bit INTEGER: an overflow, a 500)."""
        if not 1 <= request_id < 2**63:
            raise HTTPException(404)
        try:
            req = rq.get_request(s, request_id)
        except BadInputError:
            raise HTTPException(404) from None
        if user.is_requester and req.organisation != user.organisation:
            raise HTTPException(404)
        return req

    def render(
        request: Request, page: Page, name: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        return templates.TemplateResponse(request, name, page.context(**values), status_code=status)

    def error_response(
        request: Request, page: Page, text: str, status: int, headers: dict[str, str] | None = None
    ) -> Response:
        """An error in the reader's language: JSON under the API, open data and tiles, else the
        error page; with ``headers``."""
        response: Response
        if request.url.path.startswith(("/api/", "/opendata/", "/tiles/")):
            response = JSONResponse({"error": text}, status_code=status)
        else:
            response = render(request, page, "error.html", status, message=text)
        response.headers.update(headers or {})
        return response

    async def host_refused(scope: Scope, receive: Receive, send: Send, host: str) -> None:
        """The translated 400 of :class:`_HostCheck` (no session: nothing is read or set)."""
        request = Request({**scope, "session": {}}, receive)
        page = Page(request, None)
        text = page.t(
            "this portal does not answer to the address {host!r}; open it by its own address"
        ).format(host=host[:100])
        response = error_response(request, page, text, 400)
        _harden(response, request.url.path, settings.secure_cookies)
        await response(scope, receive, send)

    # ------------------------------------------------------------------ errors and headers
    @app.exception_handler(_LoginRequired)
    async def _login_required(request: Request, exc: _LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "login required"}, status_code=401)
        return RedirectResponse("/login?next=" + quote(exc.path), status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        """A path or query value of the wrong type (``/requests/abc``, ``?year=abc``): a page
        address that cannot exist is not found; an API or open-data query is a 422 naming it."""
        page = Page(request, None)
        parts = []
        for err in exc.errors():
            loc = [str(v) for v in err.get("loc", ()) if v not in ("path", "query", "body")]
            parts.append(
                page.t("{name}: not a valid value {value!r}").format(
                    name=".".join(loc) or "?", value=str(err.get("input", ""))[:40]
                )
            )
        text = "; ".join(parts) or page.t("not found")
        if request.url.path.startswith(("/api/", "/opendata/", "/tiles/")):
            return JSONResponse({"error": text}, status_code=422)
        in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
        status = 404 if in_path else 400
        return render(
            request, page, "error.html", status, message=page.t("not found") if in_path else text
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Ours and the framework's (an unknown address, a wrong method, a missing static
        file: had been English JSON ``{"detail": "Not Found"}``), in the reader's language."""
        page = Page(request, None)
        if exc.status_code == 404:
            text = page.t("not found")
        elif exc.status_code == 405:
            text = page.t("this address does not take this kind of request")
        elif isinstance(exc, HTTPException) and isinstance(exc.detail, str):
            text = exc.detail  # ours: translated where raised
        else:
            text = page.t("the request could not be processed")
        return error_response(request, page, text, exc.status_code, dict(exc.headers or {}))

    @app.exception_handler(_BodyRefused)
    async def _body_refused(request: Request, exc: _BodyRefused) -> Response:
        page = Page(request, None)
        if exc.status == 413:
            text = page.t("the request is larger than {n} kB; nothing was stored").format(
                n=settings.max_body_bytes // 1024
            )
        else:
            text = page.t("the request did not arrive within {n} s; nothing was stored").format(
                n=f"{settings.body_timeout_s:g}"
            )
        return error_response(request, page, text, exc.status, {"Connection": "close"})

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> Response:
        """The database locked by a long write (the recorder, the GUI), a full disk: a page
        saying to try again (had been "Internal Server Error"); the reason and the database's
        path go to the server's log, not to the reader."""
        log.warning("portal: %s %s: %s", request.method, request.url.path, exc)
        page = Page(request, None)
        text = page.t("the flight database is busy or unavailable; try again in a moment")
        return error_response(request, page, text, 503, {"Retry-After": "5"})

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        """The browser went away while sending (had been a stack trace in the log)."""
        return Response(status_code=400)

    # innermost (added first): the handler reads the body through it, and its refusal reaches
    # the exception handlers above, not the header middleware's task group
    app.add_middleware(
        _BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[..., Any]) -> Response:
        response: Response = await call_next(request)
        _harden(response, request.url.path, settings.secure_cookies)
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret.decode(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    if settings.allowed_hosts is not None:  # outermost: a foreign Host gets nothing else
        app.add_middleware(_HostCheck, allowed=settings.allowed_hosts, render=host_refused)
    if LEAFLET_DIR.is_dir():
        app.mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR), name="leaflet")
    app.mount("/static/portal", StaticFiles(directory=STATIC_DIR / "portal"), name="portal")

    # ------------------------------------------------------------------ sign-in and language
    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        return RedirectResponse("/requests", status_code=303)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/requests") -> Response:
        page = Page(request, None)
        return render(request, page, "login.html", next=_safe_next(next))

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await posted(request)
        name = form.get("username", "")[:64]
        key = accounts.fold(name)
        addr = _client_address(request)
        page = Page(request, None)

        def name_paused(s: Store) -> bool:
            """This name's wrong passwords since its last sign-in, counted from the audit log
            (a restart or another worker does not lift the pause): paused for this address
            after ``max_login_failures`` of its own, or after ``max_name_failures`` from all
            addresses for an address that has failed on it too. An address that has not failed
            on the name still gets its try: nobody keeps an account paused for its owner by
            sending wrong passwords (OWASP: lockout must not become a denial of service)."""
            total = mine = 0
            for actor, action, detail in s.conn.execute(
                "SELECT actor, action, detail FROM audit_log "
                "WHERE action IN ('login', 'login_failed') AND at >= ? ORDER BY id",
                (utc_now_iso(ago_s=LOGIN_PAUSE_S),),
            ):
                if accounts.fold(str(actor)) != key:
                    continue
                if action == "login":
                    total = mine = 0
                    continue
                total += 1
                mine += _address_of(detail) == addr
            if mine >= settings.max_login_failures:
                return True
            return mine > 0 and total >= settings.max_name_failures

        def throttled(s: Store, by: str) -> None:
            """Audited once a minute per name (or address): a paused attempt costs no
            password check, so each of thousands a second had been a database write."""
            if by == "address":
                if not failed_from.tell_once_a_minute(addr):
                    return
            elif s.query(
                "SELECT 1 FROM audit_log WHERE action = 'login_throttled' AND at >= ? "
                "AND actor = ? LIMIT 1",
                (utc_now_iso(ago_s=60.0), name or "-"),
            ):
                return
            with s.transaction():
                rq.audit(s, name or "-", "login_throttled", detail={"addr": addr, "by": by})

        def check(s: Store) -> _SignedIn | None:
            row = rq.get_user(s, name)  # a disabled account: as an unknown name
            if row is None:
                auth.dummy_verify(form.get("password", ""))
                ok = False
            else:
                ok = auth.verify_password(row["password_hash"], form.get("password", ""))
            with s.transaction():
                if (
                    ok
                    and row is not None
                    and not s.conn.execute(
                        "SELECT 1 FROM web_users WHERE id = ? AND active = 1 AND password_hash = ?",
                        (row["id"], row["password_hash"]),
                    ).fetchone()
                ):  # disabled or given a new password while the hash was checked
                    ok = False
                rq.audit(
                    s,
                    name or "-",
                    "login" if ok else "login_failed",
                    role=row["role"] if ok and row else None,
                    detail={"addr": addr},
                )
                (seq,) = s.conn.execute("SELECT MAX(id) FROM audit_log").fetchone()
            if not ok or row is None:
                return None
            if auth.needs_rehash(row["password_hash"]):
                rq.set_password_hash(
                    s, row["id"], auth.hash_password(form["password"]), actor=row["username"]
                )
            return _SignedIn(User.from_row(row), int(seq))

        def attempt() -> tuple[str | None, _SignedIn | None]:
            """(what paused it: "address", "name" or None; the user or None). One attempt per
            name at a time, so parallel guesses cannot all pass the pause before the first
            wrong one is counted; the address's attempt is counted before its check."""
            lock = login_locks[zlib.crc32(key.encode()) % LOGIN_LOCKS]
            with lock, store() as s:
                if failed_from.count(addr) >= settings.max_address_failures:
                    throttled(s, "address")
                    return "address", None
                if name_paused(s):
                    throttled(s, "name")
                    return "name", None
                if not failed_from.reserve(addr):  # parallel attempts of other names
                    throttled(s, "address")
                    return "address", None
                user = check(s)
                if user is not None:
                    failed_from.forgive(addr)
                return None, user

        paused, user = await run_in_threadpool(attempt)
        if paused:
            if paused == "address":
                text = page.t("too many failed sign-ins from this address; try again in 10 minutes")
            else:
                text = page.t("too many wrong passwords; try again in 10 minutes")
            return render(
                request, page, "login.html", 429, next=_safe_next(form.get("next")), error=text
            )
        if user is None:
            return render(
                request,
                page,
                "login.html",
                401,
                next=_safe_next(form.get("next")),
                error=page.t("wrong user name or password"),
            )
        lang = request.session.get("lang")
        request.session.clear()  # a fresh session and CSRF token after signing in
        request.session.update(
            {
                "uid": user.user.id,
                "csrf": auth.new_csrf_token(),
                "sid": auth.new_csrf_token(),
                "seq": user.seq,  # a later disable or new password ends this session
            }
        )
        if lang:
            request.session["lang"] = lang
        return RedirectResponse(_safe_next(form.get("next")), status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await posted(request)

        def sign_out() -> None:
            with store() as s:
                user = current_user(request, s)
                if user is not None:
                    with s.transaction():
                        rq.audit(
                            s,
                            user.username,
                            "logout",
                            role=user.role,
                            detail={"session": request.session["sid"]},
                        )

        await run_in_threadpool(sign_out)
        lang = request.session.get("lang")
        request.session.clear()
        if lang:
            request.session["lang"] = lang
        return RedirectResponse("/login", status_code=303)

    @app.get("/lang/{code}")
    def set_lang(request: Request, code: str, next: str = "/requests") -> Response:
        if code in LANGUAGES:
            request.session["lang"] = code
        return RedirectResponse(_safe_next(next), status_code=303)

    # ------------------------------------------------------------------ requests
    @app.get("/requests", response_class=HTMLResponse)
    def board(request: Request) -> Response:
        with store() as s:
            user = require_user(request, s)
            reqs = rq.list_requests(
                s, organisation=user.organisation if user.is_requester else None
            )
        return render(request, Page(request, user), "board.html", requests=reqs)

    def form_organisations(user: User) -> tuple[str, ...]:
        if user.is_requester:
            return (str(user.organisation),)
        return rq.REQUEST_ORGANISATIONS

    def may_file(user: User) -> bool:
        return user.role in ("requester", "admin")

    @app.get("/requests/new", response_class=HTMLResponse)
    def new_form(request: Request) -> Response:
        user = require_user(request)
        if not may_file(user):
            raise forbid(request)
        page = Page(request, user)
        return render(
            request,
            page,
            "new.html",
            organisations=form_organisations(user),
            values={
                "organisation": form_organisations(user)[0],
                "urgency": "urgent",
                "form_id": auth.new_csrf_token(),  # one per rendered form: a resend is seen
            },
            errors={},
            map_config=_map_config(settings),
        )

    @app.post("/requests/new")
    async def file_request(request: Request) -> Response:
        user = require_user(request)
        if not may_file(user):
            raise forbid(request)
        form = await posted(request)
        page = Page(request, user)
        result = validate_request(form, page.t, allowed_organisations=form_organisations(user))
        if result.request is None:
            return render(
                request,
                page,
                "new.html",
                400,
                organisations=form_organisations(user),
                values=form,
                errors=result.errors,
                map_config=_map_config(settings),
            )
        new = result.request

        key = (user.id, form.get("form_id", "")[:64])

        def save() -> tuple[rq.MissionRequest, bool]:
            """The new request, or the one this very form filed before (sent twice)."""
            with filing, store() as s:
                if key[1] and key in filed_forms:
                    try:
                        return rq.get_request(s, filed_forms[key]), False
                    except BadInputError:  # deleted since: file it again
                        pass
                req = rq.create_request(
                    s, new, actor=user.username, role=user.role, user_id=user.id
                )
                if key[1]:
                    while len(filed_forms) >= FILED_FORMS_KEPT:
                        filed_forms.pop(next(iter(filed_forms)))
                    filed_forms[key] = req.id
                return req, True

        req, filed = await run_in_threadpool(save)
        if filed:
            text = page.t("Request {id} filed; the pilots were notified.")
        else:
            text = page.t("Request {id} was filed already; it was not filed twice.")
        _flash(request, text.format(id=req.id))
        return RedirectResponse(f"/requests/{req.id}", status_code=303)

    @app.get("/requests/{request_id}", response_class=HTMLResponse)
    def detail(request: Request, request_id: int) -> Response:
        with store() as s:
            user = require_user(request, s)
            req = visible(user, s, request_id)
            history = rq.audit_entries(s, request_id=req.id) if user.can_answer else []
            vehicles = [r["name"] for r in s.query("SELECT name FROM vehicles ORDER BY name")]
        page = Page(request, user)
        return render(
            request,
            page,
            "detail.html",
            req=req,
            history=history,
            vehicles=vehicles,
            map_config=_map_config(settings) | {"live": f"/api/requests/{req.id}/live"},
        )

    async def answer(
        request: Request, request_id: int, action: Callable[[Store, User, dict[str, str]], Any]
    ) -> Response:
        user = require_user(request)
        form = await posted(request)
        page = Page(request, user)

        def run() -> None:
            with store() as s:
                visible(user, s, request_id)
                action(s, user, form)

        try:
            await run_in_threadpool(run)
        except BadInputError as exc:
            _flash(request, exc.message, "error")
        del page
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    @app.post("/requests/{request_id}/accept")
    async def accept(request: Request, request_id: int) -> Response:
        user = require_user(request)
        if not user.can_answer:
            raise forbid(request)
        t = Page(request, user).t

        def act(s: Store, u: User, form: dict[str, str]) -> None:
            pilot = _field(t, "Pilot", check_name, form.get("pilot", ""), MAX_PILOT)
            drones = [
                _field(t, "Drones", check_name, d, MAX_DRONE)
                for d in form.get("drones", "").split(",")
            ]
            drones = [d for d in drones if d]
            if len(drones) > MAX_DRONES:
                raise BadInputError(
                    t("Drones") + ": " + t("at most {n} drones").format(n=MAX_DRONES)
                )
            rq.accept_request(
                s,
                request_id,
                actor=u.username,
                role=u.role,
                pilot=pilot or u.username,
                drones=drones,
            )

        return await answer(request, request_id, act)

    @app.post("/requests/{request_id}/refuse")
    async def refuse(request: Request, request_id: int) -> Response:
        user = require_user(request)
        if not user.can_answer:
            raise forbid(request)

        t = Page(request, user).t

        def act(s: Store, u: User, form: dict[str, str]) -> None:
            reason = _field(t, "Reason", check_text, form.get("reason", ""), MAX_REASON)
            rq.refuse_request(s, request_id, actor=u.username, role=u.role, reason=reason)

        return await answer(request, request_id, act)

    @app.post("/requests/{request_id}/state")
    async def change_state(request: Request, request_id: int) -> Response:
        t = Page(request, None).t

        def act(s: Store, u: User, form: dict[str, str]) -> None:
            new_state = form.get("state", "")
            if not u.can_answer and new_state != "cancelled":
                raise HTTPException(403, t("your role does not allow this"))
            reason = _field(t, "Reason", check_text, form.get("reason", ""), MAX_REASON)
            rq.advance_request(
                s,
                request_id,
                new_state,
                actor=u.username,
                role=u.role,
                reason=reason or None,
            )

        return await answer(request, request_id, act)

    @app.get("/api/requests/{request_id}/live")
    def live(request: Request, request_id: int) -> dict[str, Any]:
        with store() as s:
            user = require_user(request, s)
            req = visible(user, s, request_id)
            tracks = [] if req.deployment_id is None else rq.deployment_tracks(s, req.deployment_id)
        page = Page(request, user)
        return {
            "id": req.id,
            "state": req.state,
            "state_label": page.label("state", req.state),
            "area": json.loads(req.area_geojson) if req.area_geojson else None,
            "point": [req.lon_deg, req.lat_deg],
            "lkp": None if req.lkp_lon_deg is None else [req.lkp_lon_deg, req.lkp_lat_deg],
            "tracks": tracks,
            "poa": json.loads(req.poa_geojson) if req.poa_geojson else None,
            "searched_share": req.searched_share,
            "orthophoto": overlays.info(req),
            "poll_s": settings.poll_interval_s,
        }

    @app.get("/requests/{request_id}/orthophoto")
    def orthophoto(request: Request, request_id: int) -> Response:
        user = require_user(request)
        with store() as s:
            req = visible(user, s, request_id)
        path = Path(req.orthophoto_path) if req.orthophoto_path else None
        if path is None or not _is_tiff(path):
            # the file was replaced since it was attached (by a symlink to the session secret,
            # a text file): what is not a TIFF any more is not served
            raise HTTPException(404)
        return FileResponse(
            path, filename=path.name, headers={"Cache-Control": "private, no-store"}
        )

    @app.get("/requests/{request_id}/orthophoto.png")
    def orthophoto_png(request: Request, request_id: int) -> Response:
        user = require_user(request)
        with store() as s:
            req = visible(user, s, request_id)
        overlay = overlays.get(req)
        if overlay is None:
            raise HTTPException(404)
        return Response(
            overlay.png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
        )

    # ------------------------------------------------------------------ admin
    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request) -> Response:
        user = require_user(request)
        if user.role != "admin":
            raise forbid(request)
        with store() as s:
            entries = rq.audit_entries(s)
        return render(request, Page(request, user), "audit.html", entries=entries)

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request) -> Response:
        user = require_user(request)
        if user.role != "admin":
            raise forbid(request)
        with store() as s:
            users = rq.list_users(s)
        return render(request, Page(request, user), "users.html", users=users, error=None)

    async def admin_form(request: Request) -> tuple[User, dict[str, str], Page]:
        """An administrator's posted form (403 for any other role), its fields and page."""
        user = require_user(request)
        if user.role != "admin":
            raise forbid(request)
        form = await posted(request)
        return user, form, Page(request, user)

    @app.post("/admin/users")
    async def add_user(request: Request) -> Response:
        user, form, page = await admin_form(request)

        def save() -> None:
            name = _field(page.t, "User name", check_name, form.get("username", ""), 64)
            with store() as s:
                accounts.check_new_name(s, name)
                rq.add_user(
                    s,
                    name,
                    auth.hash_password(form.get("password", "")),
                    form.get("role", ""),
                    organisation=form.get("organisation") or None,
                    actor=user.username,
                )

        try:
            await run_in_threadpool(save)
        except BadInputError as exc:
            _flash(request, exc.message, "error")
        else:
            _flash(request, page.t("Account created."))
        return RedirectResponse("/admin/users", status_code=303)

    @app.post("/admin/users/active")
    async def set_user_active(request: Request) -> Response:
        """Disable or enable an account (``accounts.set_active``: audited; a disabled account's
        sessions end). An administrator cannot disable the account it is signed in with: the
        portal would be left without one to undo it."""
        user, form, page = await admin_form(request)
        name = form.get("username", "").strip()
        active = form.get("active") == "1"

        def save() -> bool:
            if not active and name == user.username:
                raise BadInputError(page.t("you cannot disable the account you are signed in with"))
            with store() as s:
                return accounts.set_active(s, name, active, actor=user.username)

        try:
            changed = await run_in_threadpool(save)
        except BadInputError as exc:
            _flash(request, exc.message, "error")
        else:
            if active:
                text = "account {name} enabled" if changed else "account {name} was enabled already"
            elif changed:
                text = "account {name} disabled; its open sessions have ended"
            else:
                text = "account {name} was disabled already"
            _flash(request, page.t(text).format(name=name))
        return RedirectResponse("/admin/users", status_code=303)

    @app.post("/admin/users/password")
    async def set_user_password(request: Request) -> Response:
        """Give an account a new password, typed twice (``accounts.set_password``: audited; its
        open sessions end, the administrator's own when it is its account)."""
        user, form, page = await admin_form(request)
        name = form.get("username", "").strip()

        def save() -> None:
            password = form.get("password", "")
            if password != form.get("password2", ""):
                raise BadInputError(page.t("the two passwords differ; nothing was changed"))
            with store() as s:
                accounts.find_account(s, name)  # an unknown name before the slow hash
            password_hash = auth.hash_password(password)
            with store() as s:
                accounts.set_password(s, name, password_hash, actor=user.username)

        try:
            await run_in_threadpool(save)
        except BadInputError as exc:
            _flash(request, exc.message, "error")
        else:
            text = page.t("new password of account {name} set; its open sessions have ended")
            _flash(request, text.format(name=name))
        return RedirectResponse("/admin/users", status_code=303)

    # ------------------------------------------------------------------ open data (public)
    @app.get("/opendata", response_class=HTMLResponse)
    def opendata_index(request: Request) -> Response:
        return render(request, Page(request, current_user(request)), "opendata.html")

    def _year(request: Request, year: int | None) -> int | None:
        """The asked year within :data:`OPENDATA_YEARS` (400 outside, in the reader's language;
        ``year=0`` is a year out of range, not "no year"), or None when none was asked."""
        lo, hi = OPENDATA_YEARS
        if year is not None and not lo <= year <= hi:
            text = Page(request, None).t("year out of range {lo}-{hi}: {year}")
            raise HTTPException(400, text.format(lo=lo, hi=hi, year=year))
        return year

    def _year_or_now(request: Request, year: int | None) -> int:
        from datetime import datetime, timezone

        asked = _year(request, year)
        return datetime.now(timezone.utc).year if asked is None else asked

    @app.get("/opendata/deployments.csv")
    def od_deployments_csv(request: Request, year: int | None = None) -> Response:
        with store() as s:
            rows = opendata.deployment_rows(s, _year(request, year))
        return PlainTextResponse(
            opendata.to_csv(rows, opendata.DEPLOYMENT_COLUMNS), media_type="text/csv"
        )

    @app.get("/opendata/deployments.geojson")
    def od_deployments_geojson(request: Request, year: int | None = None) -> Response:
        with store() as s:
            rows = opendata.deployment_rows(s, _year(request, year))
        return JSONResponse(opendata.deployments_geojson(rows), media_type="application/geo+json")

    @app.get("/opendata/gov16.csv")
    def od_gov16_csv(request: Request, year: int | None = None) -> Response:
        with store() as s:
            rows = opendata.gov16_rows(s, _year_or_now(request, year))
        return PlainTextResponse(
            opendata.to_csv(rows, opendata.GOV16_COLUMNS), media_type="text/csv"
        )

    @app.get("/opendata/gov16.geojson")
    def od_gov16_geojson(request: Request, year: int | None = None) -> Response:
        with store() as s:
            doc = opendata.gov16_geojson(s, _year_or_now(request, year))
        return JSONResponse(doc, media_type="application/geo+json")

    # ------------------------------------------------------------------ basemap tiles
    @app.get("/tiles/{source}/{z}/{x}/{y}.png")
    def tile(source: str, z: int, x: int, y: int) -> Response:
        if settings.tiles is None or source not in settings.tile_sources:
            raise HTTPException(404)
        got = settings.tiles.get(source, z, x, y)
        if got is None:
            raise HTTPException(404)
        data, mime = got
        return Response(data, media_type=mime, headers={"Cache-Control": "max-age=86400"})

    return app


class _Overlays:
    """Orthophoto overlays rendered on first request and kept while the file is unchanged."""

    def __init__(self, keep: int = 8):
        self._keep = keep
        self._cache: dict[tuple[str, int, int], Overlay | None] = {}
        self._lock = threading.Lock()

    def get(self, req: rq.MissionRequest) -> Overlay | None:
        if not req.orthophoto_path:
            return None
        path = Path(req.orthophoto_path)
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        from rasterio.errors import RasterioError

        try:
            overlay: Overlay | None = render_overlay(path)
        except (RasterioError, OSError, ValueError):  # replaced or damaged since: no overlay
            overlay = None
        with self._lock:
            while len(self._cache) >= self._keep:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = overlay
        return overlay

    def info(self, req: rq.MissionRequest) -> dict[str, Any] | None:
        """What the map script needs: the PNG's address and its bounds."""
        overlay = self.get(req)
        if overlay is None:
            return None
        version = Path(str(req.orthophoto_path)).stat().st_mtime_ns  # a new file: a new URL
        return {
            "url": f"/requests/{req.id}/orthophoto.png?v={version}",
            "download": f"/requests/{req.id}/orthophoto",
            "bounds": overlay.bounds,
        }


def _field(
    t: Callable[[str], str],
    name: str,
    check: Callable[[str, Callable[[str], str], int], str],
    value: str,
    limit: int,
) -> str:
    """``check(value)`` with the field's translated name before a problem's message."""
    try:
        return check(value, t, limit)
    except BadInputError as exc:
        raise BadInputError(f"{t(name)}: {exc.message}") from None


def _is_tiff(path: Path) -> bool:
    """A regular file (after symlinks) starting as a TIFF or BigTIFF does."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as fh:
            return fh.read(4) in TIFF_MAGIC
    except OSError:
        return False


def _harden(response: Response, path: str, secure_cookies: bool) -> None:
    """The security headers of every answer."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if secure_cookies:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if "text/html" in response.headers.get("content-type", "") or (
        path.startswith("/api/") and "cache-control" not in response.headers
    ):  # a request's positions and people: kept by no browser or proxy cache
        response.headers["Cache-Control"] = "no-store"


def _client_address(request: Request) -> str:
    """The client's address as the server saw it: uvicorn puts the proxy's X-Forwarded-For
    there only for a peer in ``--forwarded-allow-ips`` (the header itself is never read
    here: anybody can send one)."""
    return str(request.client.host) if request.client else "-"


def _address_of(detail: Any) -> str | None:
    """The ``addr`` of an audit entry's detail (None in entries written before it was kept)."""
    try:
        value = json.loads(detail or "{}")
    except (TypeError, ValueError):
        return None
    return value.get("addr") if isinstance(value, dict) else None


def normalise_host(value: str) -> str:
    """A Host header's or an allowed name's host part: lower case, no port, no final dot, an
    IPv6 address in brackets (``[::1]:8080`` → ``[::1]``, ``::1`` → ``[::1]``)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end > 0 else value
    if value.count(":") > 1:  # a bare IPv6 address (an allowed name; no valid Host has it)
        return f"[{value}]"
    return value.split(":", 1)[0].rstrip(".")


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """``host`` (a Host header) is one of ``allowed``: a name, ``*.domain`` for its
    subdomains, or ``*`` for any."""
    if not host.startswith("[") and host.count(":") > 1:
        return False  # a bare IPv6 address is no Host (it needs brackets)
    name = normalise_host(host)
    if not name:
        return False
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == "*":
            return True
        if entry.startswith("*.") and name.endswith(entry[1:].rstrip(".")):
            return True
        if normalise_host(entry) == name:
            return True
    return False


class _HostCheck:
    """Pure ASGI middleware: a request whose ``Host`` is not an allowed name (a page of another
    site whose name was re-pointed to this address, DNS rebinding, or no Host at all) is a
    translated 400 before anything else runs. Starlette's TrustedHostMiddleware takes a Host
    ``[::1]:8080`` for ``[`` and answers in English."""

    def __init__(
        self,
        app: ASGIApp,
        allowed: tuple[str, ...],
        render: Callable[[Scope, Receive, Send, str], Any],
    ):
        self.app = app
        self.allowed = tuple(allowed)
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [v for k, v in scope.get("headers", ()) if k == b"host"]
        host = hosts[0].decode("latin-1") if len(hosts) == 1 else ""
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.render(scope, receive, send, host)


class _BodyRefused(Exception):
    """A request body over the size limit (413) or not received in time (408)."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class _BodyLimit:
    """Pure ASGI middleware: a body announced (Content-Length) or streamed (chunked) beyond
    ``max_bytes``, or still arriving after ``timeout_s`` (a slow body: one byte a minute holds a
    connection for ever), raises :class:`_BodyRefused` where the handler reads it, before the
    form parser keeps it in memory or spools it to disk (Starlette limits a form field to 1 MB
    but not the body, nor a file part). OWASP: limit request size; uvicorn has no such limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = None
        too_large = announced is not None and announced > self.max_bytes
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        received, complete = 0, False

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: waiting for a disconnect has no deadline
                return await receive()
            if too_large:
                raise _BodyRefused(413)
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise _BodyRefused(408) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyRefused(413)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited, send)


@dataclass(frozen=True)
class _SignedIn:
    """A successful sign-in: the user and the id of its ``login`` entry in the audit log."""

    user: User
    seq: int


class _LoginRequired(Exception):
    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def _map_config(settings: WebSettings) -> dict[str, Any]:
    """What the page's map script needs (passed as a data attribute, never inline script)."""
    layers = []
    if settings.tiles is not None:
        for key in settings.tile_sources:
            src = settings.tiles.sources.get(key)
            if src is not None:
                layers.append(
                    {
                        "key": key,
                        "name": src.name,
                        "url": f"/tiles/{key}/{{z}}/{{x}}/{{y}}.png",
                        "attribution": src.attribution,
                        "max_zoom": src.max_zoom,
                    }
                )
    return {"layers": layers, "center": [49.7475, 13.3776], "zoom": 13}
