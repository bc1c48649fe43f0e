"""The README, benchmarks/ and docs/ name only what is in the repo.

They must not send a reader to a file outside the checkout (the notes the
project was set up with, another engineer's issue or session): what they
mean is said in the repo's own words, and the facts live in docs/.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parent.parent
# Names of things outside the repo.
OUTSIDE_REFERENCES = (
    r"\b(DATA|DEPLOY|STYLE)\.md\b",
    r"(\.\./|\b)shared/",
    r"\b[Tt]he (project )?issue\b",
    r"\b[Ii]ssues? ?#?\d+",
    r"\b[Ss]ession[- ]?\d+",
)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# A path in backticks to a source or document file (not to what a script
# writes) that starts at one of the repo's top-level folders, or at a
# folder beside the document (`results/...` in benchmarks/).
CODE = re.compile(r"`([\w.*-]+(?:/[\w.*-]+)+\.(?:py|md|sh|json|js|kt))`")
CHECKED_FOLDERS = ("benchmarks", "docs", "examples", "keras_dccl", "tests")
CHECKED_FOLDERS += ("tflite", "results", "images")


def documents():
    paths = [ROOT / "README.md"]
    for folder in ("benchmarks", "docs"):
        paths += sorted((ROOT / folder).rglob("*.md"))
    return paths


def exists(document, target):
    """Whether `target` (maybe a glob) names a file of the repo."""
    target = target.split("#")[0]
    for base in (document.parent, ROOT):
        if "*" in target:
            if any(base.glob(target)):
                return True
        elif (base / target).exists():
            return True
    return False


def problems(document):
    text = document.read_text(encoding="utf-8")
    found = [
        f"names {match.group(0)!r}"
        for pattern in OUTSIDE_REFERENCES
        for match in re.finditer(pattern, text)
    ]
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:|#", target):
            continue
        if not exists(document, target):
            found.append(f"links to {target}, which is not in the repo")
    for target in CODE.findall(text):
        if target.split("/")[0] in CHECKED_FOLDERS and not exists(
            document, target
        ):
            found.append(f"names `{target}`, which is not in the repo")
    return found


@pytest.mark.parametrize(
    "text, expected",
    [
        ("See DATA.md and ../shared/x.", ["'DATA.md'", "'../shared/'"]),
        ("See docs/data.md, shared codebooks.", []),
        ("As the project issue says, issue 4", ["project issue", "issue 4"]),
        ("the session-2 recipe", ["session-2"]),
        ("[notes](../outside.md)", ["links to ../outside.md"]),
        ("![plot](images/none.png)", ["links to images/none.png"]),
        ("`keras_dccl/export/nothing.py`", ["nothing.py`"]),
        ("`docs/*.json`", ["docs/*.json`"]),
        ("`examples/output/model.tflite`", []),
        ("[here](../tests/test_docs.py) [web](https://keras.io)", []),
        ("`tests/test_docs.py` and `tests/*.py` and `jax/numpy.py`", []),
    ],
)
def test_problems_finds_outside_references(tmp_path, text, expected):
    document = tmp_path / "docs" / "page.md"
    document.parent.mkdir()
    document.write_text(text)
    # Relative to the page, or to the repo root.
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    found = problems(document)
    assert len(found) == len(expected), found
    for problem, part in zip(found, expected):
        assert part in problem


@pytest.mark.parametrize(
    "document", documents(), ids=lambda path: str(path.relative_to(ROOT))
)
def test_document_names_only_the_repo(document):
    assert problems(document) == []
