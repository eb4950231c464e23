"""Every document path the code and the docs refer to exists in the repository.

A reference is any path ending in ``.md`` written in a tracked text file, outside URLs. It
resolves when it names a file relative to the repository's root or to the referring file's
folder, or, written as a bare file name (as code that joins paths does), when some tracked file
has that name; one that resolves nowhere (a document that was moved, or one that lives outside the
repository) fails the test with the file and line that cite it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".yaml", ".yml", ".json", ".cfg", ".sh", ".bicep", ".html", ".js"}
# A path ending in .md that does not continue a URL, a longer path or a word.
DOC_PATH = re.compile(r"(?<![\w/.:@-])((?:\.{1,2}/)*(?:[\w.-]+/)*[\w.-]+\.md)(?![\w/-])")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO_ROOT / name for name in listed if Path(name).suffix in TEXT_SUFFIXES]


def _resolves(reference: str, cited_in: Path, names: frozenset[str] = frozenset()) -> bool:
    if "/" not in reference and reference in names:
        return True  # a bare file name, as code joins paths: some document of the repository has it
    return any((base / reference).is_file() for base in (REPO_ROOT, cited_in.parent))


def dangling_references(files: list[Path]) -> list[str]:
    names = frozenset(path.name for path in files)
    dangling = []
    for path in files:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in DOC_PATH.finditer(line):
                if not _resolves(match.group(1), path, names):
                    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
                    dangling.append(f"{shown}:{number}: {match.group(1)}")
    return dangling


def test_every_cited_doc_path_exists() -> None:
    this_file = Path(__file__).resolve()  # its examples name missing documents on purpose
    dangling = dangling_references([p for p in _tracked_text_files() if p != this_file])
    assert not dangling, "references to documents that are not in the repository:\n" + "\n".join(dangling)


def test_a_reference_to_a_missing_doc_is_caught(tmp_path: Path) -> None:
    cited = REPO_ROOT / "tests" / "example.py"
    assert not _resolves("docs/no-such-page.md", cited)
    assert _resolves("docs/durable-host.md", cited)
    sample = tmp_path / "sample.md"
    sample.write_text("See docs/durable-host.md and docs/gone.md, not https://github.com/x/y/blob/main/docs/other.md\n")
    found = [entry.split(": ", 1)[1] for entry in dangling_references([sample])]
    assert found == ["docs/gone.md"]
