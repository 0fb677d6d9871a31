"""Every section of docs/domain.md that the code cites exists as a heading there.

Code, tests, resources and docs cite the domain reference as ``docs/domain.md §4.6`` (or, until
they are repointed, by the research notes' name, ``DOMAIN.md §4.6``). A citation may name several
sections (``§3-§4``, ``§2 and §5``); each must be a heading of docs/domain.md, so renumbering the
document or citing a section that was never written fails here, listing every citing line.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "domain.md"
SELF = Path(__file__).resolve()  # its examples of the pattern are not citations
SCANNED_DIRS = ("core", "gui", "resources", "docs", "tests")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".json", ".txt", ".cfg", ".ini"}

_NUM = r"\d+(?:\.\d+)*"
# "docs/domain.md §4.6", "DOMAIN.md §1", "DOMAIN §5", followed by more "§N" joined by -, and, &, /
CITATION = re.compile(
    rf"(?:docs/domain\.md|\bDOMAIN(?:\.md)?)\s*((?:§\s*{_NUM})(?:\s*(?:-|–|,|and|&|/|or)\s*§\s*{_NUM})*)",
    re.IGNORECASE)
SECTION = re.compile(rf"§\s*({_NUM})")
HEADING = re.compile(rf"^#{{2,6}}\s+§\s*({_NUM})\b", re.MULTILINE)


def cited_sections(text: str) -> list[str]:
    """Section numbers cited in ``text``, in order (repeats kept)."""
    return [n for m in CITATION.finditer(text) for n in SECTION.findall(m.group(1))]


def document_sections() -> set[str]:
    return set(HEADING.findall(DOC.read_text(encoding="utf-8")))


def _citations() -> dict[str, list[str]]:
    """Section number -> the "path:line" places citing it, over the scanned folders."""
    out: dict[str, list[str]] = defaultdict(list)
    for d in SCANNED_DIRS:
        for path in sorted((ROOT / d).rglob("*")):
            if path.suffix not in TEXT_SUFFIXES or not path.is_file() or path == SELF:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for i, line in enumerate(text.splitlines(), start=1):
                for n in cited_sections(line):
                    out[n].append(f"{path.relative_to(ROOT)}:{i}")
    return dict(sorted(out.items()))


CITATIONS = _citations()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LP 61,880 (DOMAIN.md §5)", ["5"]),
        ("what happens next (DOMAIN.md §3-§4):", ["3", "4"]),
        ("see DOMAIN.md §2 and §5", ["2", "5"]),
        ("ranked (docs/domain.md §4.6)", ["4.6"]),
        ("before 61,880 (DOMAIN §5);", ["5"]),
        ("pyqtgraph recipe (STYLE.md §14)", []),
        ("Shreve, Stochastic Calculus, §7.2", []),
    ],
)
def test_citation_pattern(text, expected):
    assert cited_sections(text) == expected


def test_document_has_the_ten_stable_sections():
    found = document_sections()
    missing = [str(n) for n in range(1, 11) if str(n) not in found]
    assert not missing, f"docs/domain.md lacks the top-level sections {missing}"


def test_the_scan_finds_the_citations():
    # not a vacuous parametrisation: the code base cites the reference in dozens of places
    assert sum(len(v) for v in CITATIONS.values()) >= 50
    assert {"1", "2", "5"} <= set(CITATIONS)


@pytest.mark.parametrize("section", list(CITATIONS))
def test_cited_section_exists(section):
    assert section in document_sections(), (
        f"§{section} is cited but docs/domain.md has no heading '§{section}'; cited at: "
        + ", ".join(CITATIONS[section]))
