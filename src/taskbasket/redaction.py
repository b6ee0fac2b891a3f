"""Hiding secrets from everything taskbasket shows: URLs, error texts and log lines.

``redact_url`` shows a store or bus URL with every secret as ``***``: the password of the
user info in any scheme, a NATS-style token (``nats://TOKEN@host``: user info without a
password, in every scheme that does not read it as a user name) and the value of every
query option whose name (once percent-decoded: ``?pass%77ord=``) speaks of a password,
secret, token or credential. ``redact_text`` does the same to free text, such as a
driver's error that echoes the URL (libpq quotes a password holding a bad ``%`` escape),
and also hides every secret of the URLs that taskbasket has opened in this process, in
whatever form it appears (as written, or percent-decoded). Secrets shorter than four
characters are hidden inside URLs and ``password=`` options only: replacing them
everywhere would mangle ordinary words.
"""

from __future__ import annotations

import re
import threading
from typing import NamedTuple
from urllib.parse import quote, unquote, unquote_plus

SECRET = "***"

# schemes whose user info without a password is a user name, not a token
_USER_NAME_SCHEMES = frozenset({
    "postgresql", "postgres", "mysql", "mariadb", "redis", "rediss", "amqp", "amqps",
})
_SENSITIVE_WORDS = ("pass", "pwd", "secret", "token", "auth", "credential", "apikey",
                    "api_key", "private")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
# key=value options as libpq's conninfo strings and many drivers' errors print them
_OPTION_IN_TEXT = re.compile(
    r"\b(?P<key>[A-Za-z_]*(?:password|passwd|pwd|secret|token)[A-Za-z_]*)"
    r"(?P<sep>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,;&)]+)",
    re.IGNORECASE,
)
_MIN_FREE_TEXT_SECRET = 4
_MAX_REMEMBERED = 256

_remembered: dict[str, None] = {}  # insertion-ordered, so the oldest go first
_lock = threading.Lock()


def _sensitive(key: str) -> bool:
    name = unquote_plus(key).lower()
    return any(word in name for word in _SENSITIVE_WORDS)


class _Parts(NamedTuple):
    scheme: str
    userinfo: str | None  # None: no "@" at all
    hostinfo: str
    path: str
    query: str  # without its "?"
    fragment: str  # with its "#", or ""
    has_query: bool


def _split(url: str) -> _Parts | None:
    """A URL cut as drivers cut it (the authority ends at the first / ? or #), or None."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        return None
    end = min((i for i in (rest.find(m) for m in "/?#") if i != -1), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo: str | None
    userinfo, at, hostinfo = authority.rpartition("@")
    if not at:
        userinfo, hostinfo = None, authority
    tail, hash_mark, fragment = tail.partition("#")
    path, query_mark, query = tail.partition("?")
    return _Parts(scheme, userinfo, hostinfo, path, query, hash_mark + fragment,
                  bool(query_mark))


def _scheme(scheme: str) -> str:
    return scheme.lower().split("+", 1)[0]


def _user_secret(scheme: str, userinfo: str) -> tuple[str, str | None]:
    """The user info as shown, and the secret it holds (None if none)."""
    user, colon, password = userinfo.partition(":")
    if colon:
        return f"{user}:{SECRET}", password
    if userinfo and _scheme(scheme) not in _USER_NAME_SCHEMES:
        return SECRET, userinfo  # a token: nats://TOKEN@host
    return userinfo, None


def _query_parts(query: str) -> list[tuple[str, str | None, str]]:
    """``a=1&b`` as [(key, value or None, the separator after it)], as written."""
    pieces = re.split(r"([&;])", query)
    parts: list[tuple[str, str | None, str]] = []
    for item, separator in zip(pieces[::2], [*pieces[1::2], ""], strict=True):
        key, eq, value = item.partition("=")
        parts.append((key, value if eq else None, separator))
    return parts


def url_secrets(url: str) -> list[str]:
    """The secrets a URL holds (password, token, secret query values), as written."""
    split = _split(url)
    if split is None:
        return []
    found = []
    if split.userinfo is not None:
        _, secret = _user_secret(split.scheme, split.userinfo)
        if secret:
            found.append(secret)
    for key, value, _ in _query_parts(split.query):
        if value and _sensitive(key):
            found.append(value)
        elif value and _nested_url(value):
            found.extend(url_secrets(unquote_plus(value)))
    return found


def _nested_url(value: str) -> bool:
    """Whether a query value is itself a URL (``listen_url=postgresql%3A%2F%2F...``)."""
    return "://" in unquote_plus(value)


def _query_value(key: str, value: str) -> str:
    """A query value as shown: ``***`` for a secret option; a URL in it redacted too."""
    if _sensitive(key):
        return SECRET
    if _nested_url(value):
        inner = unquote_plus(value)
        shown = redact_url(inner)
        return value if shown == inner else quote(shown, safe=":/@*")
    return value


def redact_url(url: str) -> str:
    """The URL for messages, pages and logs: every secret in it shown as ``***``.

    Everything else is kept exactly as written (``sqlite:///a.db`` stays as it is); text
    that is not a URL is returned unchanged. Never raises.
    """
    split = _split(url)
    if split is None:
        return url
    authority = split.hostinfo
    if split.userinfo is not None:
        authority = f"{_user_secret(split.scheme, split.userinfo)[0]}@{authority}"
    query = ""
    if split.has_query:
        query = "?" + "".join(
            (key if value is None else f"{key}={_query_value(key, value)}") + sep
            for key, value, sep in _query_parts(split.query))
    return f"{split.scheme}://{authority}{split.path}{query}{split.fragment}"


def remember_secrets(url: str) -> None:
    """Note the secrets of a URL this process uses, so ``redact_text`` hides them anywhere.

    Called for every URL a store or bus is opened with; the most recent 256 are kept.
    """
    secrets = url_secrets(url)
    if not secrets:
        return
    with _lock:
        for secret in secrets:
            for form in {secret, unquote(secret), unquote_plus(secret)}:
                if form:
                    _remembered.pop(form, None)
                    _remembered[form] = None
        while len(_remembered) > _MAX_REMEMBERED:
            del _remembered[next(iter(_remembered))]


def _hide_option(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{SECRET}"


def redact_text(text: str, *urls: str) -> str:
    """``text`` with every secret hidden: those of URLs written in it, of ``password=...``
    options, of the given ``urls`` and of every URL remembered by ``remember_secrets``."""
    if not text:
        return text
    for url in urls:
        remember_secrets(url)
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match[0]), text)
    text = _OPTION_IN_TEXT.sub(_hide_option, text)
    with _lock:
        secrets = [s for s in _remembered if len(s) >= _MIN_FREE_TEXT_SECRET]
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, SECRET)
    return text
