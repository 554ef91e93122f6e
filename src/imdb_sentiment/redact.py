"""URLs fit to print, log and record: no `user:password@`, no secret query values.

A mirror's URL may carry credentials (`https://user:token@host/...`) or be a pre-signed link
(`?X-Amz-Signature=...`, `?sig=...`, `?token=...`). Logs, errors, reports and MLflow params
get `redact_url(url)`; only the HTTP client ever sees the URL itself.
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
# Query or fragment names whose value is a secret (compared lowercased, `_`/`-` alike).
_SECRET_NAMES = frozenset(
    {
        "sig",
        "key",
        "apikey",
        "code",
        "policy",
        "session",
        "sessionid",
        "key-pair-id",  # CloudFront signed URLs (with Policy and Signature)
    }
)
# ... or whose name contains one of these: access-token, client-secret, X-Goog-Credential, ...
_SECRET_PARTS = ("token", "secret", "passw", "signature", "credential", "auth", "api-key")
# Every parameter of a pre-signed S3 or GCS link names the signer or signs the request.
_SECRET_PREFIXES = ("x-amz-", "x-goog-")
_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")


def redact_url(url: str) -> str:
    """`url` with any user:password replaced by `***` and secret parameter values masked.

    `https://u:p@host/a.tgz?X-Amz-Signature=abc&v=1` -> `https://***@host/a.tgz?X-Amz-Signature=***&v=1`.
    A local path (no scheme and host) is returned as it is.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: mask what looks like secrets anyway
        return _redact_params(_USERINFO.sub(f"{MASK}@", url), separators="?&;#")
    if not parts.netloc:
        return url
    host = parts.netloc.rpartition("@")
    netloc = f"{MASK}@{host[2]}" if host[1] else parts.netloc
    return urllib.parse.urlunsplit(
        (
            parts.scheme,
            netloc,
            parts.path,
            _redact_params(parts.query),
            _redact_params(parts.fragment),
        )
    )


def is_secret_name(name: str) -> bool:
    """Whether a query parameter called `name` carries a secret (token, signature, key...)."""
    name = urllib.parse.unquote_plus(name).strip().lower().replace("_", "-")
    return (
        name in _SECRET_NAMES
        or name.startswith(_SECRET_PREFIXES)
        or any(part in name for part in _SECRET_PARTS)
    )


def _redact_params(text: str, separators: str = "&;") -> str:
    """`a=1&token=x` -> `a=1&token=***`, the rest of `text` kept byte for byte."""
    pieces = re.split(f"([{re.escape(separators)}])", text)
    for i, piece in enumerate(pieces):
        name, equals, _ = piece.partition("=")
        if equals and is_secret_name(name):
            pieces[i] = f"{name}={MASK}"
    return "".join(pieces)


# A URL inside free text (a log line, a report): the scheme, then anything up to whitespace,
# a quote or a closing bracket (Markdown links and reprs end a URL with those).
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]`]+")


def redact_urls(text: str) -> str:
    """`text` with every URL in it passed through `redact_url`; the rest kept as it is."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match[0]), text)
