import collections
import os
import pathlib
import re
import runpy

import pytest

from keras_dccl.export.tflite_model import TFLiteModel
from keras_dccl.text.word_tokenizer import WordTokenizer

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
def test_sentiment_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_DCCL_SENTIMENT_SENTENCES", "1500")
    monkeypatch.setenv("KERAS_DCCL_SENTIMENT_EPOCHS", "2")
    monkeypatch.setenv("KERAS_DCCL_SENTIMENT_OUTPUT", str(tmp_path))
    runpy.run_path(str(EXAMPLES / "sentiment.py"), run_name="__main__")
    out = capsys.readouterr().out
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
    model = TFLiteModel(tmp_path / "sentiment.tflite")
    assert model.inputs[0].shape_signature == (1, 64)
    assert tokenizer.vocabulary_size > 1000
    for plot in ("accuracy_vs_bytes.png", "length_vs_frequency.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sentiment_dev_holdout_never_reads_the_test_split():
    example = runpy.run_path(str(EXAMPLES / "sentiment.py"))
    _, _, splits = example["load_data"](1000)
    _, _, dev_splits = example["load_data"](1000, holdout="dev")
    test = set(splits["test"][2])
    assert len(dev_splits["test"][1]) == len(splits["test"][1]) == 100
    for name, (ids, labels, sentences) in dev_splits.items():
        assert not test & set(sentences), name
        assert len(ids) == len(labels) == len(sentences)
    # The development split is the sentences validation used to hold.
    assert dev_splits["test"][2] == splits["validation"][2]
    with pytest.raises(ValueError, match="holdout"):
        example["load_data"](1000, holdout="train")


def test_sentiment_folds_test_every_sentence_once():
    # Counted as multisets: a few snippets occur twice in the corpus.
    example = runpy.run_path(str(EXAMPLES / "sentiment.py"))
    _, _, first = example["load_data"](500)
    everything = sum(
        (collections.Counter(split[2]) for split in first.values()),
        collections.Counter(),
    )
    tested = []
    for fold in range(10):
        _, _, splits = example["load_data"](500, fold=fold)
        parts = [collections.Counter(split[2]) for split in splits.values()]
        assert sum(parts, collections.Counter()) == everything
        tested += splits["test"][2]
    assert tested[:50] == first["test"][2]
    assert collections.Counter(tested) == everything
