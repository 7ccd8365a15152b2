"""Authentication: API tokens (``Authorization: Bearer``) for the API, a signed session cookie for pages.

Writes always need one of them; reads need one too unless anonymous read-only access is switched on.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import HTTPException, Request

from nnlab.web.store import Store

COOKIE = "nnlab_session"
SESSION_SECONDS = 7 * 24 * 3600


def sign_session(secret: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    sig = hmac.new(secret.encode(), str(expires).encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{sig}"


def session_valid(secret: str, value: str | None) -> bool:
    if not value or "." not in value:
        return False
    expires, sig = value.split(".", 1)
    good = hmac.new(secret.encode(), expires.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, good) and expires.isdigit() and int(expires) > time.time()


def authenticated(request: Request) -> bool:
    store: Store = request.app.state.wb.store
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return store.check_token(header[7:].strip())
    return session_valid(request.app.state.secret, request.cookies.get(COOKIE))


def require_write(request: Request) -> None:
    """Dependency of every endpoint that changes something."""
    if not authenticated(request):
        raise HTTPException(401, "an API token (Authorization: Bearer ...) or a login session is required",
                            headers={"WWW-Authenticate": "Bearer"})


def require_read(request: Request) -> None:
    """Dependency of read endpoints: open when anonymous read-only access is on."""
    if not request.app.state.wb.settings.anonymous_read:
        require_write(request)
