"""The office console's pages and forms (DESIGN §9).

:meth:`Console.handle` answers one request. Before anything else it refuses a
``Host`` that is not one of the station's names (DNS rebinding); every page but
the login needs a session; every post needs the session's CSRF token (and an
``Origin``, when the browser sends one, of this console). A refused request
writes nothing. Writes go through the :class:`Backend` (the daemon's API
operations), naming the logged-in account on each ledger entry.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jinja2

from station_agent import logs
from station_agent.api import protocol as p
from station_agent.console import http
from station_agent.console.accounts import Accounts
from station_agent.console.http import BadRequest, Request, Response
from station_agent.console.sessions import LoginThrottle, Session, Sessions
from station_agent.console.views import View
from station_agent.errors import BadInput, StationAgentError
from station_agent.i18n import LANGUAGES, Speaker, speaker
from station_agent.ledger import LedgerRefused, model

SESSION_COOKIE = "sa_session"
LANG_COOKIE = "sa_lang"
LOGIN_COOKIE = "sa_login"
_STATIC = Path(__file__).parent / "static"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class Backend(Protocol):
    """What the console needs from the station (the daemon implements it)."""

    station_id: str
    office: str | None
    timezone: str | None
    language: str

    def call(self, op: str, params: dict[str, Any]) -> Any:
        """Carry out an API operation; :class:`LedgerRefused`, :class:`BadInput` or
        :class:`~station_agent.api.protocol.ApiError` when refused."""

    def daily_report(self, day: date, fmt: str, lang: str) -> str:
        """The day's reconciliation as ``html``, ``csv`` or ``text``."""

    def monthly_report(self, year: int, month: int, fmt: str, lang: str) -> str:
        """The month's recapitulation as ``html``, ``csv`` or ``text``."""

    def metrics(self) -> str:
        """``/metrics`` in the Prometheus text exposition format."""


Handler = Callable[["Console", Request, Session, Speaker], Response]


class Console:
    """See the module docstring."""

    def __init__(self, backend: Backend, accounts: Accounts, *, allowed_hosts: frozenset[str],
                 session_minutes: int = 30) -> None:
        self.backend, self.accounts = backend, accounts
        self.allowed_hosts = allowed_hosts
        self.sessions = Sessions(session_minutes)
        self.throttle = LoginThrottle()
        self.log = logs.get("console", station=backend.station_id)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("station_agent.console", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
        self.view = View(backend)

    # -- the entry point ---------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """Answer ``req`` (never raises: a server error is logged and answered 500)."""
        try:
            return self._handle(req)
        except BadRequest as exc:
            return http.text(400, f"bad request: {exc}")
        except Exception as exc:   # a bug: logged, and the client told without details
            self.log.exception("console request failed", path=req.path[:200], exc_info=exc)
            return http.text(500, "internal error: the station's log has the details")

    def _handle(self, req: Request) -> Response:
        sp = self._speaker(req)
        host = _host_name(req.headers.get("host", ""))
        if host not in self.allowed_hosts:
            return http.text(421, sp.gettext(
                "This console does not answer to that host name: open it by one of the "
                "names in [web] hosts."))
        if req.method not in ("GET", "HEAD", "POST"):
            return http.text(405, "method not allowed")
        if len(req.body) > http.MAX_BODY:
            return http.text(413, "request too large")
        path = req.path
        if req.method != "POST":
            if path == "/metrics":
                return Response(200, self.backend.metrics().encode(),
                                "text/plain; version=0.0.4; charset=utf-8")
            if path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            if path == "/login":
                return self._login_page(req, sp)
        elif path == "/login":
            return self._login(req)
        session = self.sessions.get(req.cookies().get(SESSION_COOKIE))
        if req.method == "POST":
            if session is None:
                return http.text(403, sp.gettext(
                    "Not logged in, or the session expired: log in again. Nothing was "
                    "recorded."))
            if not self._same_origin(req):
                return http.text(403, sp.gettext(
                    "The form came from another site. Nothing was recorded."))
            form = req.form()
            if not session.csrf_ok(form.get("csrf")):
                return http.text(403, sp.gettext(
                    "The form is out of date (its security token is missing or wrong): reload "
                    "the page and try again. Nothing was recorded."))
            post = _POSTS.get(path)
            if post is None:
                return http.text(404, "no such form")
            return post(self, req, session, sp)
        if path == "/lang":
            return self._set_language(req)
        get = _GETS.get(path)
        if get is None:
            return http.text(404, "no such page")
        if session is None:
            return http.redirect("/login")
        return get(self, req, session, sp)

    # -- helpers -----------------------------------------------------------------------

    def _speaker(self, req: Request) -> Speaker:
        lang = req.cookies().get(LANG_COOKIE)
        if lang not in LANGUAGES:
            lang = self.backend.language
        return speaker(lang, self.backend.timezone)

    def _same_origin(self, req: Request) -> bool:
        origin = req.headers.get("origin")
        if origin is None or origin == "null":
            return origin is None
        return _host_name(urlsplit(origin).netloc) in self.allowed_hosts

    def render(self, template: str, sp: Speaker, session: Session | None, *,
               status: int = 200, **context: Any) -> Response:
        """A page from ``template`` in ``sp``'s language."""
        values: dict[str, Any] = {"page": None, "notice": None, "error": None, "back": "/"}
        values.update(context)
        page = self.env.get_template(template).render(
            _=sp.gettext, ngettext=sp.ngettext, sp=sp, lang=sp.lang, session=session,
            station_id=self.backend.station_id, office=self.backend.office,
            languages=LANGUAGES, **values)
        return Response(status, page.encode())

    def _static(self, name: str) -> Response:
        path = _STATIC / name
        kind = _STATIC_TYPES.get(path.suffix)
        if kind is None or "/" in name or name.startswith(".") or not path.is_file():
            return http.text(404, "no such file")
        return Response(200, path.read_bytes(), kind, [("Cache-Control", "max-age=3600")])

    def _set_language(self, req: Request) -> Response:
        lang = req.args().get("to", "")
        if lang not in LANGUAGES:
            return http.text(400, f"language: expected one of {', '.join(LANGUAGES)}")
        back = req.args().get("back", "/")
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        return http.redirect(back, [http.cookie(LANG_COOKIE, lang, max_age=365 * 86400)])

    # -- login -------------------------------------------------------------------------

    def _login_page(self, req: Request, sp: Speaker, *, error: str | None = None,
                    status: int = 200) -> Response:
        # One token per browser: a second load of the page (another tab) keeps it.
        token = req.cookies().get(LOGIN_COOKIE) or ""
        if not _TOKEN.match(token):
            token = secrets.token_urlsafe(24)
        resp = self.render("login.html", sp, None, status=status, login_token=token,
                           error=error)
        resp.headers.append(http.cookie(LOGIN_COOKIE, token))
        return resp

    def _login(self, req: Request) -> Response:
        sp = self._speaker(req)
        form = req.form()
        token = req.cookies().get(LOGIN_COOKIE)
        if not token or not secrets.compare_digest(token, form.get("login_token", "")) \
                or not self._same_origin(req):
            self.log.warning("console login form refused", client=req.client,
                             token=bool(token), origin=req.headers.get("origin", "")[:100],
                             cookie=req.headers.get("cookie", "")[:300])
            return self._login_page(req, sp, status=403, error=sp.gettext(
                "The login form is out of date: try again."))
        wait = self.throttle.wait_s(req.client)
        if wait > 0:
            return self._login_page(req, sp, status=429, error=sp.gettext(
                "Too many failed logins: wait {minutes} minutes and try again.").format(
                    minutes=sp.number(max(1, round(wait / 60)))))
        name, password = form.get("user", "").strip().lower(), form.get("password", "")
        try:
            account = self.accounts.check(name, password)
        except StationAgentError as exc:
            self.log.error("console accounts unusable", error=str(exc))
            return self._login_page(req, sp, status=503, error=str(exc))
        if account is None:
            self.throttle.failed(req.client)
            self.log.warning("console login failed", user=name[:32], client=req.client)
            return self._login_page(req, sp, status=401, error=sp.gettext(
                "Wrong name or password."))
        self.throttle.succeeded(req.client)
        session = self.sessions.create(account.name)
        self.log.info("console login", user=account.name, client=req.client)
        return http.redirect("/", [http.cookie(SESSION_COOKIE, session.token),
                                   http.cookie(LOGIN_COOKIE, "", max_age=0)])

    def _logout(self, req: Request, session: Session, sp: Speaker) -> Response:
        self.sessions.drop(session.token)
        return http.redirect("/login", [http.cookie(SESSION_COOKIE, "", max_age=0)])

    # -- pages -------------------------------------------------------------------------

    def _today(self, req: Request, session: Session, sp: Speaker) -> Response:
        return self.render("today.html", sp, session, page="today",
                           **self.view.today(sp), **_notice(req, sp))

    def _today_live(self, req: Request, session: Session, sp: Speaker) -> Response:
        return self.render("today_body.html", sp, session, **self.view.today(sp))

    def _jobs(self, req: Request, session: Session, sp: Speaker, *,
              error: str | None = None, form: dict[str, str] | None = None,
              status: int = 200) -> Response:
        return self.render("jobs.html", sp, session, page="jobs", status=status,
                           error=error, **self.view.jobs(sp), **_notice(req, sp))

    def _blanks(self, req: Request, session: Session, sp: Speaker, *,
                error: str | None = None, form: dict[str, str] | None = None,
                status: int = 200) -> Response:
        return self.render("blanks.html", sp, session, page="blanks", status=status,
                           error=error, form=form or {}, idem=uuid.uuid4().hex,
                           **self.view.blanks(sp), **_notice(req, sp))

    def _supplies(self, req: Request, session: Session, sp: Speaker, *,
                  error: str | None = None, form: dict[str, str] | None = None,
                  status: int = 200) -> Response:
        return self.render("supplies.html", sp, session, page="supplies", status=status,
                           error=error, form=form or {}, idem=uuid.uuid4().hex,
                           **self.view.supplies(sp), **_notice(req, sp))

    def _reports(self, req: Request, session: Session, sp: Speaker) -> Response:
        return self.render("reports.html", sp, session, page="reports",
                           today=self.view.today_date(), month=self.view.today_date()[:7])

    def _daily_report(self, req: Request, session: Session, sp: Speaker) -> Response:
        args = req.args()
        try:
            day = date.fromisoformat(args.get("date", ""))
        except ValueError:
            return http.text(400, "date: expected YYYY-MM-DD")
        fmt = args.get("format", "html")
        if fmt not in ("html", "csv"):
            return http.text(400, "format: expected html or csv")
        body = self.backend.daily_report(day, fmt, sp.lang)
        if fmt == "csv":
            return Response(200, body.encode(), "text/csv; charset=utf-8", [(
                "Content-Disposition",
                f'attachment; filename="rekonsiliasi-{self.backend.station_id}-{day}.csv"')])
        return Response(200, body.encode(), csp=http.REPORT_CSP)

    def _monthly_report(self, req: Request, session: Session, sp: Speaker) -> Response:
        args = req.args()
        m = _MONTH.match(args.get("month", ""))
        if m is None or not 1 <= int(m.group(2)) <= 12:
            return http.text(400, "month: expected YYYY-MM")
        fmt = args.get("format", "html")
        if fmt not in ("html", "csv"):
            return http.text(400, "format: expected html or csv")
        year, month = int(m.group(1)), int(m.group(2))
        body = self.backend.monthly_report(year, month, fmt, sp.lang)
        if fmt == "csv":
            return Response(200, body.encode(), "text/csv; charset=utf-8", [(
                "Content-Disposition", f'attachment; filename="rekapitulasi-'
                                       f'{self.backend.station_id}-{year}-{month:02d}.csv"')])
        return Response(200, body.encode(), csp=http.REPORT_CSP)

    # -- forms -------------------------------------------------------------------------

    def _write(self, req: Request, session: Session, sp: Speaker, op: str,
               params: dict[str, Any], back: str,
               page: Callable[..., Response]) -> Response:
        """Carry out ``op`` as ``session``'s account, then back to ``back``; on a
        refusal, the page again with the reason (nothing was written)."""
        form = req.form()
        try:
            doc = self.backend.call(op, {**params, "actor": session.user})
        except LedgerRefused as exc:
            return page(req, session, sp, error=self.view.refusal(exc, sp), form=form,
                        status=409)
        except (BadInput, p.ApiError) as exc:
            return page(req, session, sp, error=str(exc), form=form, status=400)
        seq = None
        if isinstance(doc, dict):   # a blanks' transfer has its entry, a supply's its entries
            entries = [doc["entry"]] if "entry" in doc else doc.get("entries") or [{}]
            seq = entries[-1].get("seq")
        again = "1" if isinstance(doc, dict) and doc.get("replay") else "0"
        self.log.info("console write", op=op, user=session.user, entry=seq)
        return http.redirect(f"{back}?done={op}&entry={seq or ''}&again={again}")

    def _post_receive(self, req: Request, session: Session, sp: Speaker) -> Response:
        f = req.form()
        params: dict[str, Any] = {"batch_id": f.get("batch", "").strip(),
                                  "count": _count(f.get("count"))}
        if f.get("first_serial", "").strip():
            params["first_serial"] = f["first_serial"].strip()
        return self._checked(req, session, sp, "receive", params, "/blanks", self._blanks)

    def _post_dispose(self, req: Request, session: Session, sp: Speaker) -> Response:
        f = req.form()
        return self._checked(req, session, sp, "dispose", {
            "count": _count(f.get("count")), "reference": f.get("reference", "").strip()},
            "/blanks", self._blanks)

    def _post_adjust(self, req: Request, session: Session, sp: Speaker) -> Response:
        f = req.form()
        return self._checked(req, session, sp, "adjust", {
            "count": _count(f.get("count"), signed=True), "reason": f.get("reason", "").strip(),
            "idem_id": _idem("adjust", f)},
            "/blanks", self._blanks)

    def _post_void(self, req: Request, session: Session, sp: Speaker) -> Response:
        f = req.form()
        params: dict[str, Any] = {"job_id": f.get("job_id", ""),
                                  "category": f.get("category", "")}
        if f.get("reason", "").strip():
            params["reason"] = f["reason"].strip()
        return self._checked(req, session, sp, "void", params, "/jobs", self._jobs)

    def _post_resolve(self, req: Request, session: Session, sp: Speaker) -> Response:
        f = req.form()
        params: dict[str, Any] = {"job_id": f.get("job_id", ""),
                                  "outcome": f.get("outcome", "")}
        for key in ("category", "reason"):
            if f.get(key, "").strip():
                params[key] = f[key].strip()
        return self._checked(req, session, sp, "resolve", params, "/jobs", self._jobs)

    def _post_supply_receive(self, req: Request, session: Session, sp: Speaker
                             ) -> Response:
        f = req.form()
        return self._checked(req, session, sp, "supply_receive", {
            "kind": f.get("kind", ""), "count": _count(f.get("count")),
            "batch_id": f.get("batch", "").strip()}, "/supplies", self._supplies)

    def _post_supply_install(self, req: Request, session: Session, sp: Speaker
                             ) -> Response:
        f = req.form()
        params: dict[str, Any] = {"kind": f.get("kind", ""), "printer": f.get("printer", ""),
                                  "idem_id": _idem("supply_install", f)}
        if f.get("serial", "").strip():
            params["serial"] = f["serial"].strip()
        return self._checked(req, session, sp, "supply_install", params, "/supplies",
                             self._supplies)

    def _post_supply_finish(self, req: Request, session: Session, sp: Speaker) -> Response:
        f = req.form()
        return self._checked(req, session, sp, "supply_finish", {
            "kind": f.get("kind", ""), "printer": f.get("printer", ""),
            "idem_id": _idem("supply_finish", f)}, "/supplies", self._supplies)

    def _post_supply_write_off(self, req: Request, session: Session, sp: Speaker
                               ) -> Response:
        f = req.form()
        params: dict[str, Any] = {"kind": f.get("kind", ""), "count": _count(f.get("count")),
                                  "reason": f.get("reason", "").strip(),
                                  "idem_id": _idem("supply_write_off", f)}
        if f.get("printer", ""):
            params["printer"] = f["printer"]
        return self._checked(req, session, sp, "supply_write_off", params, "/supplies",
                             self._supplies)

    def _checked(self, req: Request, session: Session, sp: Speaker, op: str,
                 params: dict[str, Any], back: str, page: Callable[..., Response]) -> Response:
        """Refuse a form whose count is not a whole number before anything is called."""
        if params.get("count") is None and "count" in params:
            error = (sp.gettext("Count: enter a whole number of units.")
                     if op.startswith("supply_") else sp.gettext(
                         "Count: enter a whole number of blanks (for a correction, + or - "
                         "first)."))
            return page(req, session, sp, form=req.form(), status=400, error=error)
        return self._write(req, session, sp, op, params, back, page)


def _idem(op: str, form: dict[str, str]) -> str:
    """The id that makes a form's second sending (a double click, a reload) a
    replay: the page's own, or a new one."""
    return f"{op}:" + (form.get("idem") or uuid.uuid4().hex)[:64]


def _count(text: str | None, *, signed: bool = False) -> int | None:
    raw = (text or "").strip().replace(".", "").replace(",", "")
    sign = 1
    if signed and raw[:1] in "+-" and raw:
        sign, raw = (-1 if raw[0] == "-" else 1), raw[1:]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return None
    value = sign * int(raw)
    return value if value != 0 and abs(value) <= model.MAX_COUNT else None


def _host_name(host: str) -> str:
    """The ``Host`` header without its port, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _notice(req: Request, sp: Speaker) -> dict[str, Any]:
    """The "recorded" line after a form (``?done=OP&entry=N``)."""
    args = req.args()
    done, entry = args.get("done"), args.get("entry", "")
    if not done:
        return {"notice": None}
    if args.get("again") == "1":
        text = sp.gettext("Already recorded as entry {entry}: nothing changed.")
    elif entry.isdigit():
        text = sp.gettext("Recorded as entry {entry}.")
    else:
        text = sp.gettext("Done.")
    return {"notice": text.format(entry=sp.number(int(entry)) if entry.isdigit() else "")}


_GETS: dict[str, Handler] = {
    "/": Console._today,
    "/live/today": Console._today_live,
    "/jobs": Console._jobs,
    "/blanks": Console._blanks,
    "/supplies": Console._supplies,
    "/reports": Console._reports,
    "/reports/daily": Console._daily_report,
    "/reports/monthly": Console._monthly_report,
}
_POSTS: dict[str, Handler] = {
    "/logout": Console._logout,
    "/blanks/receive": Console._post_receive,
    "/blanks/dispose": Console._post_dispose,
    "/blanks/adjust": Console._post_adjust,
    "/jobs/void": Console._post_void,
    "/jobs/resolve": Console._post_resolve,
    "/supplies/receive": Console._post_supply_receive,
    "/supplies/install": Console._post_supply_install,
    "/supplies/finish": Console._post_supply_finish,
    "/supplies/write-off": Console._post_supply_write_off,
}
