"""Every generated file (the exported OpenAPI documents, docs/settings.md) matches what its code renders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.generated_files import COMMAND, GeneratedFile, generated_files, main

FILES = generated_files()


@pytest.mark.parametrize("generated", FILES, ids=lambda f: f.name)
def test_the_committed_file_matches_its_source(generated: GeneratedFile) -> None:
    assert generated.path.exists(), f"{generated.path} is missing; run {COMMAND} {generated.name}"
    assert generated.path.read_text(encoding="utf-8") == generated.render(), (
        f"{generated.path.name} drifted from {generated.source}; run {COMMAND} {generated.name}"
    )


def test_check_reports_drift_and_writing_fixes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [replace(f, path=tmp_path / f.path.name) for f in FILES if f.name in ("run_api", "settings")]
    assert main(["--check"], files) == 1
    assert f"run {COMMAND} run_api" in capsys.readouterr().out
    assert main(["settings"], files) == 0
    assert main(["--check", "settings"], files) == 0
    assert main(["--check"], files) == 1
    assert main([], files) == 0
    assert main(["--check"], files) == 0
    with pytest.raises(SystemExit):
        main(["no-such-file"], files)
