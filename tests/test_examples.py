import os
import pathlib
import re
import runpy
import subprocess
import sys

import pytest

from keras_dccl.export import TFLiteFile
from keras_dccl.text import WordTokenizer

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def test_compress_glove_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_DCCL_EXAMPLE_WORDS", "1500")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / "compress_glove.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "1500 words of dimension 50" in out
    assert "embedding outputs match the artifact: True" in out
    assert os.path.exists(tmp_path / "glove-codes.npz")


@pytest.mark.slow
def test_sentiment_example_runs(tmp_path):
    # The whole tutorial, as its header says to run it, into `tmp_path`.
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "sentiment.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for variant in ("glove_embedding", "compress", "task_driven", "adaptive"):
        assert re.search(rf"^{variant} +test accuracy 0\.\d{{4}}", out, re.M)
    exported = re.search(
        r"Exported (\w+) .* LiteRT test accuracy (0\.\d+); largest "
        r"difference from Keras (\S+)",
        out,
    )
    assert exported and exported.group(1) != "glove_embedding"
    # int8 codebooks: the file is close to, not equal to, the Keras model.
    assert float(exported.group(3)) < 0.05
    # The files the browser and Android demos load.
    tokenizer = WordTokenizer(tmp_path / "vocabulary.txt")
    model = TFLiteFile(tmp_path / "sentiment.tflite")
    assert model.inputs[0].shape_signature == (1, 64)
    assert tokenizer.vocabulary_size > 1000
    for plot in ("accuracy_vs_bytes.png", "length_vs_frequency.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
