import os
import pathlib
import runpy

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def test_compress_glove_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_DCCL_EXAMPLE_WORDS", "1500")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / "compress_glove.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "1500 words of dimension 50" in out
    assert "embedding outputs match the artifact: True" in out
    assert os.path.exists(tmp_path / "glove-codes.npz")
