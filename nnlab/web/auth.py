"""Authentication: API tokens (``Authorization: Bearer``) for the API, a signed session cookie for pages.

API writes take the bearer token only; pages take the session cookie, which is bound to the token that
opened it (revoking the token, or ``end_sessions``, ends it at once), and every cookie-authenticated form
post must carry the session's CSRF token and come from this site (Origin / Referer). Reads need a token or
a session too, unless anonymous read-only access is switched on.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from nnlab.errors import UserError
from nnlab.web.store import Store

COOKIE = "nnlab_session"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 7 * 24 * 3600


class CsrfError(UserError):
    """A cookie-authenticated form post without this session's CSRF token, or from another site (403)."""


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_session(secret: str, token: dict[str, Any], generation: int, now: float | None = None) -> str:
    """``token_id.generation.expiry.HMAC``; the MAC also covers the token's hash, so a new token that reuses
    a revoked token's id cannot inherit its sessions."""
    payload = f"{token['id']}.{generation}.{int((now or time.time()) + SESSION_SECONDS)}"
    return f"{payload}.{_mac(secret, payload + '.' + token['hash'])}"


def session_token_id(secret: str, store: Store, value: str | None) -> int | None:
    """The id of the live token behind a session cookie; None when forged, expired, its token revoked, or
    its sessions ended (logout everywhere)."""
    parts = (value or "").split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) < 19 for p in parts[:3]):
        return None
    token_id, generation, expires = (int(p) for p in parts[:3])
    token = store.token(token_id) if expires > time.time() else None
    if token is None or not hmac.compare_digest(parts[3], _mac(secret, ".".join(parts[:3]) + "." + token["hash"])):
        return None
    return token_id if generation == store.session_generation(token_id) else None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def session(request: Request) -> int | None:
    """The token id of this request's valid session cookie, or None."""
    return session_token_id(request.app.state.secret, request.app.state.wb.store, request.cookies.get(COOKIE))


def authenticated(request: Request) -> bool:
    token = bearer(request)
    if token is not None:
        return request.app.state.wb.store.check_token(token)
    return session(request) is not None


def require_write(request: Request) -> None:
    """Dependency of every API endpoint that changes something: the bearer token only (never the cookie,
    so no other site can make a logged-in browser write through the API)."""
    token = bearer(request)
    if token is None or not request.app.state.wb.store.check_token(token):
        raise HTTPException(401, "API writes need an API token (Authorization: Bearer ...); the login session "
                                 "is for the pages", headers={"WWW-Authenticate": "Bearer"})


def require_read(request: Request) -> None:
    """Dependency of read endpoints: a token or a session, or nothing when anonymous read-only access is on."""
    if not request.app.state.wb.settings.anonymous_read and not authenticated(request):
        raise HTTPException(401, "an API token (Authorization: Bearer ...) or a login session is required",
                            headers={"WWW-Authenticate": "Bearer"})


def csrf_token(request: Request) -> str:
    """This session's CSRF token (derived from the signed cookie, so nothing is stored); '' without a session."""
    value = request.cookies.get(COOKIE)
    return _mac(request.app.state.secret, f"csrf.{value}") if value and session(request) is not None else ""


def check_origin(request: Request) -> None:
    """Refuse a browser post whose Origin (or else Referer) is another site; SameSite=Strict alone lets
    another port of the same host through."""
    source = request.headers.get("origin") or request.headers.get("referer")
    # a reverse proxy may rename the host; a cross-site form cannot set X-Forwarded-Host, so it is safe here
    ours = {request.headers.get("host", request.url.netloc),
            request.headers.get("x-forwarded-host", "").split(",")[0].strip()} - {""}
    if source is not None and urlsplit(source).netloc not in ours:
        raise CsrfError("a form post from another site was refused (Origin/Referer does not match this server)")


async def csrf_guard(request: Request) -> None:
    """Dependency of the pages: every POST that is not bearer-authenticated comes from this site, and one
    authenticated by the session cookie carries the session's CSRF token (hidden field ``csrf``)."""
    if request.method != "POST" or bearer(request) is not None:
        return
    check_origin(request)
    expected = csrf_token(request)
    if expected:
        given = (await request.form()).get(CSRF_FIELD, "")
        if not hmac.compare_digest(str(given).encode(), expected.encode()):
            raise CsrfError("this form lacks a valid CSRF token (a post from another site, or a page from an "
                            "earlier session): reload the page and try again")
