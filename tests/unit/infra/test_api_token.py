"""The operator's token: no well-known default, a 0600 file in development mode, and a server
that refuses to start without a strong token."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from infra.api_token import new_token, unsafe_token_reason, write_token_file
from infra.config import Settings
from shopstream.cli import app


def test_there_is_no_default_token(monkeypatch) -> None:
    monkeypatch.delenv("SHOPSTREAM_API_TOKEN", raising=False)
    assert Settings().api_token is None
    assert "SHOPSTREAM_API_TOKEN" not in Settings().child_env()
    assert Settings(api_token="x" * 20).child_env()["SHOPSTREAM_API_TOKEN"] == "x" * 20


def test_weak_tokens_are_named_and_random_ones_pass() -> None:
    assert "not set" in (unsafe_token_reason("") or "")
    assert "well-known" in (unsafe_token_reason("dev-token-change-me") or "")
    assert "at least 16" in (unsafe_token_reason("abc123") or "")
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20 and all(unsafe_token_reason(t) is None for t in tokens)


def test_the_development_token_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = tmp_path / "api-token"
    old.write_text("old")
    old.chmod(0o644)
    path = write_token_file(tmp_path, "a-fresh-random-token-123")
    assert path == old and path.read_text().strip() == "a-fresh-random-token-123"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_serve_refuses_to_start_without_a_strong_token(tmp_path: Path) -> None:
    runner = CliRunner()
    for token in ("", "dev-token-change-me", "short"):
        result = runner.invoke(app, ["serve"], env={"SHOPSTREAM_API_TOKEN": token,
                                                    "SHOPSTREAM_DATA_DIR": str(tmp_path)})
        assert result.exit_code == 2, result.output
        assert "refusing to start" in result.output and "SHOPSTREAM_API_TOKEN" in result.output
    result = runner.invoke(app, ["serve"], env={"SHOPSTREAM_API_TOKEN": new_token(),
                                                "SHOPSTREAM_CLICK_RATE_LIMIT": "lots",
                                                "SHOPSTREAM_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "SHOPSTREAM_CLICK_RATE_LIMIT" in result.output
