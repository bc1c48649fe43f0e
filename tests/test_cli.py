import subprocess
import sys

import numpy as np
import pytest

from keras_dccl import cli
from keras_dccl.compressed_table import CompressedTable


@pytest.fixture
def glove_file(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 6)).astype(np.float32)
    path = tmp_path / "vectors.txt"
    lines = [
        f"word{index} " + " ".join(f"{value:.6f}" for value in row)
        for index, row in enumerate(vectors)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv):
    code = cli.main([str(argument) for argument in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compress_info_evaluate(glove_file, tmp_path, capsys):
    output = tmp_path / "out.npz"
    code, out, err = run(
        capsys,
        "compress", glove_file, "-o", output, "-m", "4", "-k", "8", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert "reloads with the same mean distance" in out
    compressed = CompressedTable.load(output)
    assert (compressed.num_words, compressed.num_codebooks) == (300, 4)
    assert compressed.vocabulary[:2] == ["word0", "word1"]
    assert not (tmp_path / "out.npz.checkpoint.npz").exists()

    code, out, _ = run(capsys, "info", output)
    assert code == 0
    assert "300" in out and "12" in out  # words; bits per word = 4 * 3

    code, out, _ = run(capsys, "evaluate", output, glove_file)
    assert code == 0
    distance = float(out.split("mean distance:")[1].split()[0])
    assert distance == pytest.approx(
        compressed.metadata["mean_distance"], rel=1e-5
    )


def test_stale_checkpoint_is_removed_without_resume(
    glove_file, tmp_path, capsys
):
    output = tmp_path / "out.npz"
    (tmp_path / "out.npz.checkpoint.npz").write_text("stale")
    code, out, err = run(
        capsys, "compress", glove_file, "-o", output, "-m", "2", "-q"
    )
    assert code == 0, err
    assert "Starting over" in out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-k", "512"], "codebook_size"),
        (["-k", "12"], "power of two"),
        (["-m", "0"], "num_codebooks"),
        (["--seed", "-3"], "seed"),
    ],
)
def test_bad_arguments_exit_with_one_line(
    glove_file, tmp_path, capsys, flags, message
):
    output = tmp_path / "out.npz"
    code, _, err = run(capsys, "compress", glove_file, "-o", output, *flags)
    assert code == 2
    assert err.startswith("keras-dccl: error:") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not output.exists()


def test_bad_files_exit_with_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.txt"
    code, _, err = run(capsys, "compress", missing, "-o", tmp_path / "o.npz")
    assert code == 2 and "missing.txt" in err
    broken = tmp_path / "broken.txt"
    broken.write_text("a 1 2\nb 3\n")
    code, _, err = run(capsys, "compress", broken, "-o", tmp_path / "o.npz")
    assert code == 2 and "broken.txt:2" in err
    assert len(err.strip().splitlines()) == 1
    not_artifact = tmp_path / "not.npz"
    not_artifact.write_text("hello")
    code, _, err = run(capsys, "info", not_artifact)
    assert code == 2 and "not.npz" in err


def test_evaluate_refuses_other_vectors(glove_file, tmp_path, capsys):
    output = tmp_path / "out.npz"
    run(capsys, "compress", glove_file, "-o", output, "-m", "2", "-q")
    other = tmp_path / "other.txt"
    other.write_text("x 1 2\ny 3 4\n")
    code, _, err = run(capsys, "evaluate", output, other)
    assert code == 2 and "holds 300 x 6" in err


def test_no_arguments_runs_the_demo_on_glove(tmp_path, capsys, monkeypatch):
    # The demo on the embedded data set, cut down to 400 words to stay fast.
    monkeypatch.setattr(cli, "DEFAULT_WORDS", 400)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys)
    assert code == 0, err
    compressed = CompressedTable.load(tmp_path / cli.DEFAULT_OUTPUT)
    assert compressed.vocabulary[:3] == ["the", ",", "."]
    assert (compressed.num_codebooks, compressed.codebook_size) == (32, 16)
    assert "ratio" in out.lower()


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_dccl", "info", str(tmp_path / "no")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "keras-dccl: error:" in result.stderr
