"""The pages' routes: each a GET that reads the store and answers HTML or, with
``?format=json``, its JSON twin; the login form (the one POST); the shipped CSS and script.

``page_routes(site)`` is a route group for :func:`monitor.web.app.create_app`;
:func:`web_app` composes it with the health routes and the :class:`~monitor.web.security.Guard`
into the one app a node or ``cwdrift web`` serves.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from monitor import weblinks
from monitor.data import TEMPLATES_PACKAGE
from monitor.errors import CwdriftError
from monitor.store import Session
from monitor.web.alerts_page import alerts_view
from monitor.web.app import create_app
from monitor.web.fleet import fleet_query, fleet_view
from monitor.web.render import PageError, View, as_json, error_page, html
from monitor.web.report_page import report_view
from monitor.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    Access,
    Guard,
    cookies,
    new_csrf_token,
    safe_next,
    same_origin,
)
from monitor.web.site import Site
from monitor.web.tenant import moment, tenant_view
from monitor.web.timeline import rule_view, setting_view

log = logging.getLogger("cwdrift.web")

STATIC_FILES = {  # name -> media type: the only files /static serves
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@dataclass(frozen=True)
class _Static:
    body: bytes
    media_type: str


def _static_files() -> dict[str, _Static]:
    folder = files(TEMPLATES_PACKAGE).joinpath("web", "static")
    return {
        name: _Static(folder.joinpath(name).read_bytes(), media_type)
        for name, media_type in STATIC_FILES.items()
    }


Build = Callable[[Session], View]


def page_routes(site: Site, access: Access) -> list[BaseRoute]:
    """Every page and its JSON twin, the login form, and /static."""

    async def answer(request: Request, section: str, prepare: Callable[[], Build]) -> Response:
        """``prepare()`` reads the request (a bad parameter is a PageError) and returns what
        builds the view from a session, run in a worker thread."""
        wants_json = request.query_params.get("format") == "json"
        chrome: dict[str, Any] = {
            "now": site.clock(),
            "section": section,
            "json_link": _with_format(request),
            "login": access.token is not None,
        }
        try:
            view = await site.read(prepare())
        except PageError as error:
            return (
                as_json(error.to_dict(), status=error.status)
                if wants_json
                else error_page(error, **chrome)
            )
        except CwdriftError as error:  # the baseline does not load, the database is down
            log.warning("page %s: %s", request.url.path, error)
            failure = PageError(503, str(error))
            if wants_json:
                return as_json(failure.to_dict(), status=503)
            return error_page(failure, **chrome)
        if wants_json:
            return as_json(view.data)
        if not view.template:  # the report: the e-mail's own HTML
            return HTMLResponse(view.context["html"], headers=dict(view.headers))
        return html(view, **chrome)

    async def fleet(request: Request) -> Response:
        def prepare() -> Build:
            query = fleet_query(request.query_params)
            return lambda session: fleet_view(site, session, query)

        return await answer(request, "fleet", prepare)

    async def tenant(request: Request) -> Response:
        def prepare() -> Build:
            found = site.tenant(request.path_params["tenant"])
            at = moment(request.query_params.get("at"))
            return lambda session: tenant_view(site, session, found, at)

        return await answer(request, "fleet", prepare)

    async def setting(request: Request) -> Response:
        def prepare() -> Build:
            found = site.tenant(request.path_params["tenant"])
            key = request.path_params["key"]
            return lambda session: setting_view(site, session, found, key)

        return await answer(request, "fleet", prepare)

    async def rule(request: Request) -> Response:
        def prepare() -> Build:
            found = site.tenant(request.path_params["tenant"])
            rule_id = request.path_params["rule"]
            return lambda session: rule_view(site, session, found, rule_id)

        return await answer(request, "fleet", prepare)

    async def alerts(request: Request) -> Response:
        return await answer(request, "alerts", lambda: lambda session: alerts_view(site, session))

    async def reports(request: Request) -> Response:
        week = request.query_params.get("week")
        return await answer(
            request, "reports", lambda: lambda session: report_view(site, session, week)
        )

    static = _static_files()

    async def static_file(request: Request) -> Response:
        found = static.get(request.path_params["name"])
        if found is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return Response(
            found.body,
            media_type=found.media_type,
            headers={"cache-control": "public, max-age=3600"},
        )

    async def favicon(request: Request) -> Response:
        icon = static["favicon.svg"]
        return Response(icon.body, media_type=icon.media_type)

    routes: list[BaseRoute] = [
        Route(weblinks.FLEET, fleet, methods=["GET"]),
        Route(weblinks.TENANT, tenant, methods=["GET"]),
        Route(weblinks.SETTING, setting, methods=["GET"]),
        Route(weblinks.RULE, rule, methods=["GET"]),
        Route(weblinks.ALERTS, alerts, methods=["GET"]),
        Route(weblinks.REPORTS, reports, methods=["GET"]),
        Route(weblinks.STATIC + "/{name}", static_file, methods=["GET"]),
        # Browsers ask for it on pages that name no icon (the report, which is the e-mail's HTML).
        Route("/favicon.ico", favicon, methods=["GET"]),
    ]
    return routes + login_routes(site, access)


def _with_format(request: Request) -> str:
    params = dict(request.query_params)
    params["format"] = "json"
    return f"{request.url.path}?{urlencode(params)}"


# -- logging in ---------------------------------------------------------------------------------


def login_routes(site: Site, access: Access) -> list[BaseRoute]:
    """``GET /login`` (the form) and ``POST /login`` (the token, once: a session cookie)."""

    async def form(request: Request) -> Response:
        return login_form(site, access, request, status=200)

    async def submit(request: Request) -> Response:
        if access.token is None:
            return RedirectResponse(weblinks.FLEET, status_code=303)
        fields = await _form(request)
        token, csrf, target = (fields.get(name, "") for name in ("token", "csrf", "next"))
        expected = cookies(request.headers).get(CSRF_COOKIE, "")
        if not same_origin(request) or not expected or not _equal(csrf, expected):
            return login_form(
                site,
                access,
                request,
                status=403,
                problem="the form expired: please try again",
                target=target,
            )
        if not access.token_matches(token):
            log.warning("web login refused: wrong token (from %s)", _client(request))
            return login_form(
                site, access, request, status=401, problem="wrong token", target=target
            )
        answer = RedirectResponse(safe_next(target), status_code=303)
        answer.headers.append(
            "set-cookie",
            access.cookie(SESSION_COOKIE, access.new_session(), max_age=SESSION_HOURS * 3600),
        )
        answer.headers.append(
            "set-cookie", access.cookie(CSRF_COOKIE, "", path=weblinks.LOGIN, max_age=0)
        )
        return answer

    return [
        Route(weblinks.LOGIN, form, methods=["GET"]),
        Route(weblinks.LOGIN, submit, methods=["POST"]),
    ]


def login_form(
    site: Site,
    access: Access,
    request: Request,
    *,
    status: int,
    problem: str = "",
    target: str | None = None,
) -> Response:
    """The login form, with a fresh CSRF token in a field and in a cookie (double submit).
    After signing in, the browser goes to ``target``: by default the page it asked for."""
    csrf = new_csrf_token()
    if target is None:
        if request.url.path == weblinks.LOGIN:
            target = request.query_params.get("next") or weblinks.FLEET
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    view = View(
        "web/login.html.j2",
        {"csrf": csrf, "next": safe_next(target), "problem": problem},
        {},
        title="Sign in",
    )
    answer = html(view, status=status, now=site.clock(), section="", json_link="", login=True)
    answer.headers.append("set-cookie", access.cookie(CSRF_COOKIE, csrf, path=weblinks.LOGIN))
    return answer


FORM_LIMIT = 4096  # bytes: the form has three short fields


async def _form(request: Request) -> dict[str, str]:
    """The login form's fields (URL-encoded, as browsers send a form without files); a body
    too large or of another type gives no fields, and so no login."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return {}
    try:
        parsed = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=8)
    except ValueError:  # more fields than the form has
        return {}
    return {name: values[0] for name, values in parsed.items() if values}


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- the one app --------------------------------------------------------------------------------


def web_app(
    site: Site,
    access: Access,
    *route_groups: Iterable[BaseRoute],
) -> Starlette:
    """The pages, login and static files, plus ``route_groups`` (the health routes), behind
    the guard: headers on every answer, read-only methods, the token."""

    async def refuse(request: Request) -> Response:
        return login_form(site, access, request, status=401)

    guard = Middleware(Guard, access=access, refuse=refuse)
    return create_app(*route_groups, page_routes(site, access), middleware=[guard])
