"""The operator's API token: what counts as safe, and the one-run token of development mode.

There is no well-known default. `shopstream serve` refuses to start unless `SHOPSTREAM_API_TOKEN`
is set to a token that is not a known placeholder and is long enough not to be guessed;
`shopstream run` (`make run`, the development mode) makes a random one for its run, writes it to
a file only its owner can read and passes it to its children.

>>> unsafe_token_reason(None) is not None, unsafe_token_reason("dev-token-change-me") is not None
(True, True)
>>> unsafe_token_reason("short") is not None, unsafe_token_reason(new_token()) is None
(True, True)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_TOKEN_CHARS = 16
# Placeholders that appear in docs and earlier defaults: anyone could guess them.
KNOWN_TOKENS = frozenset({"dev-token-change-me", "change-me", "changeme", "secret", "token", "test-token"})
TOKEN_FILE = "api-token"
HOW_TO_SET = (
    "set SHOPSTREAM_API_TOKEN to a random string, e.g. "
    "`export SHOPSTREAM_API_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')`, "
    "or use `shopstream run` (development mode), which makes one for its run"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def unsafe_token_reason(token: str | None) -> str | None:
    """Why ``token`` must not guard a server's writes, or None when it may."""
    if not token:
        return "SHOPSTREAM_API_TOKEN is not set"
    if token.strip().casefold() in KNOWN_TOKENS:
        return "SHOPSTREAM_API_TOKEN is a well-known placeholder"
    if len(token) < MIN_TOKEN_CHARS:
        return f"SHOPSTREAM_API_TOKEN has {len(token)} characters; it needs at least {MIN_TOKEN_CHARS}"
    return None


def write_token_file(data_dir: Path, token: str) -> Path:
    """Write ``token`` to ``data_dir/api-token``, readable by this user only (0600), and return the path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file may have had wider permissions
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return path
