"""Settings read from the environment and a .env file, as a user writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings


def test_a_home_relative_data_dir_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # .env.example writes ASSISTANT_DATA_DIR=~/.local/share/...; copied to .env it must mean
    # the user's home, not a folder literally named "~" in the working directory
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASSISTANT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ASSISTANT_DATA_DIR=~/.local/share/cited-assistant\n")
    settings = Settings()
    assert settings.data_dir == tmp_path / "home" / ".local" / "share" / "cited-assistant"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", "~/elsewhere")
    assert Settings().data_dir == tmp_path / "home" / "elsewhere"
