"""Every Python snippet of README.md runs as written.

Each ```` ```python ```` block is a test, run as a user would paste it: a
fresh `python` process whose working directory is an empty temporary
folder (files it writes go there). A snippet therefore imports and defines
what it uses. An HTML comment on the line right before the opening fence
changes that:

- `<!-- continues -->`: the block runs after the previous Python block, in
  the same process, so it can use what that one defined;
- `<!-- no-test -->`: the block is not run (say why in the README);
- `<!-- slow -->`: the block runs only with `pytest -m slow`.

Words may be combined (`<!-- continues slow -->`). Blocks fenced as
`bash`, `shell`, `text` or with no language are never run.
"""

import dataclasses
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent
README = ROOT / "README.md"
TAGS = {"continues", "no-test", "slow"}


@dataclasses.dataclass
class Snippet:
    heading: str
    line: int
    tags: list
    code: str
    program: str = ""

    @property
    def name(self):
        words = re.sub(r"[^\w]+", "-", self.heading.lower()).strip("-")
        return f"{words}-line{self.line}"


def readme_snippets(text):
    """The Python blocks of `text`; `program` holds what each one runs."""
    snippets, heading, previous, fence = [], "", "", None
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is None and line.startswith("```"):
            fence = line[3:].strip()
            comment = re.fullmatch(r"<!--(.*)-->", previous.strip())
            snippet = Snippet(
                heading, number, comment.group(1).split() if comment else [], ""
            )
        elif fence is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            previous = line
        elif line.startswith("```"):
            if fence == "python":
                snippets.append(snippet)
            fence, previous = None, line
        else:
            snippet.code += line + "\n"
    for index, snippet in enumerate(snippets):
        unknown = set(snippet.tags) - TAGS
        if unknown:
            raise ValueError(
                f"README.md:{snippet.line}: unknown snippet tag(s) "
                f"{sorted(unknown)}; known: {sorted(TAGS)}"
            )
        snippet.program = snippet.code
        if "continues" in snippet.tags:
            if index == 0 or "no-test" in snippets[index - 1].tags:
                raise ValueError(
                    f"README.md:{snippet.line}: `continues` needs a Python "
                    "block before it that runs"
                )
            before = snippets[index - 1]
            snippet.program = before.program + snippet.code
            if "slow" in before.tags:
                snippet.tags.append("slow")
    return snippets


def snippet_params():
    return [
        pytest.param(
            snippet,
            id=snippet.name,
            marks=[pytest.mark.slow] if "slow" in snippet.tags else [],
        )
        for snippet in readme_snippets(README.read_text(encoding="utf-8"))
        if "no-test" not in snippet.tags
    ]


def run_python(program, folder, *arguments):
    """Runs `program` (or a script, with `arguments`) in `folder`."""
    environment = dict(os.environ)
    environment.setdefault("KERAS_BACKEND", "tensorflow")
    # The checkout's keras_dccl (not an installed copy), and only it: a
    # snippet must not see the checkout's other folders as packages.
    site = folder / ".site"
    if not site.exists():
        site.mkdir()
        (site / "keras_dccl").symlink_to(ROOT / "keras_dccl")
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site), environment.get("PYTHONPATH")])
    )
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        environment[name] = "1"
    environment["TF_NUM_INTEROP_THREADS"] = "1"
    command = [sys.executable, *arguments] if arguments else None
    if command is None:
        (folder / "snippet.py").write_text(program)
        command = [sys.executable, "snippet.py"]
    return subprocess.run(
        command,
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_readme_snippets_are_found():
    text = "\n".join(
        [
            "# One",
            "```python",
            "a = 1",
            "```",
            "```bash",
            "# not a heading",
            "```",
            "<!-- continues slow -->",
            "```python",
            "b = a",
            "```",
            "## Two",
            "<!-- no-test -->",
            "```python",
            "c",
            "```",
        ]
    )
    first, second, third = readme_snippets(text)
    assert (first.heading, first.line, first.program) == ("One", 2, "a = 1\n")
    assert second.heading == "One"
    assert second.program == "a = 1\nb = a\n"
    assert "slow" in second.tags
    assert (third.heading, third.tags) == ("Two", ["no-test"])
    with pytest.raises(ValueError, match="unknown snippet tag"):
        readme_snippets("<!-- skip -->\n```python\nx\n```\n")
    with pytest.raises(ValueError, match="`continues` needs"):
        readme_snippets("<!-- continues -->\n```python\nx\n```\n")


@pytest.mark.parametrize("snippet", snippet_params())
def test_readme_snippet_runs(snippet, tmp_path):
    result = run_python(snippet.program, tmp_path)
    assert result.returncode == 0, (
        f"README.md:{snippet.line} ({snippet.heading}) failed:\n"
        + result.stderr[-3000:]
    )


@pytest.mark.slow
def test_readme_model_converts_with_the_convert_script(tmp_path):
    # The README says the model its Python section saves is what
    # tflite/convert.py reads.
    saving = [
        snippet
        for snippet in readme_snippets(README.read_text(encoding="utf-8"))
        if 'model.save("model.keras")' in snippet.code
    ]
    assert saving, "no README snippet saves model.keras"
    assert run_python(saving[0].program, tmp_path).returncode == 0
    script = str(ROOT / "tflite" / "convert.py")
    result = run_python(
        "", tmp_path, script, "model.keras", "-o", "model.tflite"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "max abs difference" in result.stdout
    assert (tmp_path / "model.tflite").stat().st_size > 0
