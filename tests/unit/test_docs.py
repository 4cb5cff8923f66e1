"""The project's docs/ exist, and every citation of them in the repository names a real file and section."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCANNED = ("adapters", "bin", "deploy", "docs", "engine", "jobs", "testbed", "tests")
SUFFIXES = {".py", ".md", ".sh", ".json", ".toml", ".rc", ""}
# files outside the repository must never be cited: the project's own docs/ say it in its own words
OUTSIDE = re.compile(r"\b(DESIGN|STYLE|KALTURA)\.md\b")
CITATION = re.compile(r"docs/([a-z_-]+)\.md(?:, ([^);\n]+))?")
NUMBERED = {"safety rule": "lifecycle", "conventions": "architecture"}


def repository_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "Dockerfile", ROOT / "pyproject.toml"]
    for top in SCANNED:
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in SUFFIXES]
    return [p for p in files if p.exists() and "__pycache__" not in p.parts]


def headings(doc: str) -> list[str]:
    text = (DOCS / f"{doc}.md").read_text(encoding="utf-8")
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("## ")]


def numbered_items(doc: str, heading: str) -> set[int]:
    text = (DOCS / f"{doc}.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return {int(n) for n in re.findall(r"^(\d+)\. ", section, re.MULTILINE)}


def test_the_three_docs_exist() -> None:
    assert {p.name for p in DOCS.glob("*.md")} >= {"architecture.md", "lifecycle.md", "kaltura.md"}


def test_no_file_cites_a_document_outside_the_repository() -> None:
    found = {
        p.relative_to(ROOT).as_posix()
        for p in repository_files()
        if OUTSIDE.search(p.read_text(encoding="utf-8", errors="replace"))
    }
    assert found == set(), "cite docs/ instead"


def test_every_citation_of_docs_names_a_real_file_and_section() -> None:
    cited = 0
    for path in repository_files():
        for doc, section in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            where = f"{path.relative_to(ROOT)}: docs/{doc}.md, {section}"
            assert (DOCS / f"{doc}.md").is_file(), where
            cited += 1
            if not section:
                continue
            kind = next((k for k in NUMBERED if section.startswith(k)), None)
            if kind is not None:
                heading = "Safety rules: nothing lost" if kind == "safety rule" else "Conventions"
                numbers = {int(n) for n in re.findall(r"\d+", section)}
                assert numbers <= numbered_items(NUMBERED[kind], heading), where
            else:
                title = section.strip().strip('"').rstrip(".")
                assert any(title.startswith(h) for h in headings(doc)), where
    assert cited > 20
