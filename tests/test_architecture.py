"""docs/architecture.md stays true: every module it names exists, and it names every top-level
module and package of src/paperfeed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "paperfeed"
DOC = ROOT / "docs" / "architecture.md"
# A path in backquotes: `store/papers.py`, `web/`, `tests/conftest.py`, `web/templates/`.
PATH = re.compile(r"`((?:[\w.*-]+/)*[\w.*-]+(?:\.py|/))`")
REPO_FOLDERS = ("tests/", "bench/", "docs/")


def _named() -> set[str]:
    return set(PATH.findall(DOC.read_text()))


def test_every_module_the_guide_names_exists():
    missing = []
    for name in _named():
        base = ROOT if name.startswith(REPO_FOLDERS) else PACKAGE
        if "*" in name:
            found = list(base.glob(name.rstrip("/")))
        else:
            found = [base / name] if (base / name).exists() else []
        if not found:
            missing.append(name)
    assert not missing, f"docs/architecture.md names modules that do not exist: {sorted(missing)}"


def test_the_guide_names_every_top_level_module_and_package():
    top = {p.name for p in PACKAGE.glob("*.py")}
    top |= {p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    unnamed = top - _named()
    assert not unnamed, f"add these to docs/architecture.md (and a layer): {sorted(unnamed)}"


def test_the_path_pattern_finds_what_it_should():
    """The checks above are only as good as the pattern that reads the page."""
    found = PATH.findall("`store/papers.py` and `web/` but not `paperfeed serve` or `db`")
    assert found == ["store/papers.py", "web/"]
