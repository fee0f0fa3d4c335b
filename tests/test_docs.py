"""The README and docs/: short at the door, every link lands, every config example is valid.

Their shell commands run in tests/test_configs.py, their Python in tests/test_api.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import optrace
from optrace.spec.gallery import parse_gallery
from tests.test_configs import DOCUMENTS, ROOT

FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def prose(doc: Path) -> str:
    """The document without its code blocks (a `#` there is no heading)."""
    return FENCE.sub("", doc.read_text(encoding="utf-8"))


def anchors(doc: Path) -> set[str]:
    """The anchors GitHub gives the document's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", prose(doc), flags=re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def links(doc: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(prose(doc))]


def test_the_readme_reads_in_five_minutes() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_the_anchors_are_githubs() -> None:
    doc = ROOT / "docs" / "tuning.md"
    assert {"a-fair-race-optrace-tune", "what-fair-means-here-and-what-it-does-not-claim"} <= (
        anchors(doc)
    )


@pytest.mark.parametrize("doc", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_every_link_lands_on_a_file_and_its_heading(doc: Path) -> None:
    local = [t for t in links(doc) if not re.match(r"[a-z]+:", t)]
    assert local, doc
    for target in local:
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.is_file() and file.is_relative_to(ROOT), (doc.name, target)
        if anchor:
            assert anchor in anchors(file), (doc.name, target)


def test_every_page_of_docs_is_linked_from_the_readme() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve() for t in links(readme)}
    pages = {d.resolve() for d in DOCUMENTS if d != readme}
    assert len(pages) >= 8 and pages <= linked


def config_examples() -> list[tuple[str, Any]]:
    return [
        (f"{doc.name}-{i}", yaml.safe_load(block))
        for doc in DOCUMENTS
        for i, block in enumerate(
            re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
        )
    ]


EXAMPLES = config_examples()
#: What a fragment of a race config (a racer list, a tune: block) is raced in.
AROUND = {"function": "rosenbrock", "epochs": 3}


@pytest.mark.parametrize("example", [e for _, e in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_every_yaml_example_is_a_valid_config(example: Any) -> None:
    """A gallery config parses; a race config, or a fragment of one, passes every
    check that a run makes (the optimizers are built and stepped)."""
    if isinstance(example, dict) and "optimizers" in example:
        parse_gallery(example)
        return
    if "pytorch_optimizer" in str(example):
        pytest.importorskip("pytorch_optimizer", reason="a third-party racer")
    around = dict(AROUND)
    if isinstance(example, dict) and "model" in example:
        del around["function"]  # a model race races a network instead
    doc = {**around, "racers": example} if isinstance(example, list) else {**around, **example}
    optrace.Race.from_dict(doc, base_dir=ROOT / "configs").check()
