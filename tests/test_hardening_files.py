"""Untrusted and unusual files: readers, artifacts, checkpoints, locks."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from keras_dccl.compressed_table import ArtifactError
from keras_dccl.compressed_table import CompressedTable
from keras_dccl.compression.compress import compress
from keras_dccl.readers.read_vectors import read_vectors
from keras_dccl.readers.vector_file_error import VectorFileError
from keras_dccl.utils.checkpoint import load_checkpoint
from keras_dccl.utils.checkpoint import save_checkpoint
from keras_dccl.utils.lock_file import lock_file
from keras_dccl.utils.npz_file import open_npz
from keras_dccl.utils.npz_file import read_member

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    "text",
    [b"the 1 2\nof 3 4\n", b"2 2\nthe 1 2\nof 3 4\n"],
    ids=["glove", "word2vec"],
)
def test_byte_order_mark_is_skipped(tmp_path, text):
    # Case 2.
    path = tmp_path / "bom.txt"
    path.write_bytes(BOM + text)
    words, vectors = read_vectors(path)
    assert words == ["the", "of"]
    np.testing.assert_array_equal(vectors, [[1, 2], [3, 4]])


def test_byte_order_mark_of_a_vocabulary_is_skipped(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((2, 3), np.float32))
    (tmp_path / "words.txt").write_bytes(BOM + b"the\nof\n")
    words, _ = read_vectors(
        tmp_path / "v.npy", vocabulary_path=tmp_path / "words.txt"
    )
    assert words == ["the", "of"]


def test_word_length_limit(tmp_path):
    # Case 6: 4096 UTF-8 bytes are read; 4097 (here 2049 two-byte
    # characters) are refused with the line.
    path = tmp_path / "v.txt"
    path.write_text("a" * 4096 + " 1\n" + "é" * 2049 + " 2\n")
    with pytest.raises(VectorFileError, match=r"v.txt:2: .* 4,098 bytes"):
        read_vectors(path)
    path.write_text("a" * 4096 + " 1\n")
    assert len(read_vectors(path)[0][0]) == 4096


def test_long_word_artifact_is_compact(tmp_path):
    # Case 6: one 2,000-character word no longer widens every stored word.
    words = [f"w{index}" for index in range(9999)] + ["x" * 2000]
    codes = np.random.default_rng(0).integers(0, 16, size=(10000, 8))
    embedding = CompressedTable(codes, np.zeros((8, 16, 4)), words)
    embedding.save(tmp_path / "a.npz")
    word_bytes = sum(len(word) for word in words)
    # Codes (4 bytes a word), words, offsets (8 bytes a word), headers.
    assert os.path.getsize(tmp_path / "a.npz") < (
        10000 * 4 + word_bytes + 10001 * 8 + 8 * 16 * 4 * 4 + 4096
    )
    assert CompressedTable.load(tmp_path / "a.npz").vocabulary == words


def write_version_1(path, codes, codebooks, words, extra):
    """An artifact as keras-dccl 0.1 wrote it, built from its spec."""
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    data = packed.tobytes() + codebooks.astype("<f4").tobytes()
    data += b"".join(word.encode("utf-8") + b"\0" for word in words)
    header = {
        "format": "keras-dccl",
        "format_version": 1,
        "num_words": len(codes),
        "num_codebooks": codes.shape[1],
        "codebook_size": codebooks.shape[1],
        "output_dim": codebooks.shape[2],
        "packed": True,
        "extra": extra,
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    with open(path, "wb") as file:
        np.savez(
            file,
            codes=packed,
            codebooks=codebooks.astype(np.float32),
            vocabulary=np.array(words, dtype=str),
            metadata=np.array(json.dumps(header)),
        )


def test_version_1_artifacts_still_load(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 16, size=(5, 4))
    codebooks = rng.standard_normal((4, 16, 3))
    words = ["the", "日本", "x" * 300, "café", "😀"]
    path = tmp_path / "old.npz"
    write_version_1(path, codes, codebooks, words, {"mean_distance": 0.5})
    loaded = CompressedTable.load(path)
    np.testing.assert_array_equal(loaded.codes, codes)
    assert loaded.vocabulary == words
    assert loaded.metadata == {"mean_distance": 0.5}
    # Saved again, it is version 2, with the metadata under the checksum.
    loaded.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(data["metadata"].item())["format_version"] == 2
        assert "vocabulary" not in data.files


def test_lying_npy_header_is_refused_before_allocating(tmp_path):
    # Case 14: a member's header declares 2**40 rows, its data is 16 bytes.
    header = {"descr": "|u1", "fortran_order": False, "shape": (1 << 40, 4)}
    member = bytearray(b"\x93NUMPY\x01\x00")
    text = repr(header).encode("latin1")
    text += b" " * (-(len(member) + 2 + len(text) + 1) % 64) + b"\n"
    member += len(text).to_bytes(2, "little") + text + bytes(16)
    with zipfile.ZipFile(tmp_path / "a.npz", "w") as archive:
        archive.writestr("codes.npy", bytes(member))
    with open_npz(tmp_path / "a.npz") as archive:
        with pytest.raises(ValueError, match="header declares 4,398,046,"):
            read_member(archive, "codes", 1 << 30)


def test_pickled_member_is_not_read(tmp_path):
    with open(tmp_path / "a.npz", "wb") as file:
        np.savez(file, codes=np.array([1, None], dtype=object))
    with open_npz(tmp_path / "a.npz") as archive:
        with pytest.raises(ValueError, match="Python objects"):
            read_member(archive, "codes", 1 << 20)


def test_checkpoint_round_trip_and_refusals(tmp_path):
    # Case 4, at the level of the file.
    path = tmp_path / "job.checkpoint.npz"
    arrays = {"codes": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    save_checkpoint(path, {"stage": "search", "step": 3}, arrays)
    state, loaded = load_checkpoint(path)
    assert state == {"stage": "search", "step": 3}
    np.testing.assert_array_equal(loaded["codes"], arrays["codes"])
    loaded["codes"][0, 0] = 9  # Writable, as the job updates it in place.
    assert load_checkpoint(tmp_path / "absent.npz") is None

    with np.load(path, allow_pickle=False) as data:
        stored = {key: data[key] for key in data.files}
    edits = {
        "state": dict(stored, __state__=np.array('{"stage": "bogus"}')),
        "array": dict(stored, codes=stored["codes"] + 1),
        "missing": {k: v for k, v in stored.items() if k != "codes"},
        "renamed": {
            ("other" if k == "codes" else k): v for k, v in stored.items()
        },
    }
    for name, edited in edits.items():
        with open(path, "wb") as file:
            np.savez(file, **edited)
        with pytest.raises(ValueError, match="checksum mismatch") as info:
            load_checkpoint(path)
        assert str(info.value).startswith(f"{path}: not a valid"), name
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_checkpoint(path)


def test_deflated_checkpoint_member_is_refused(tmp_path):
    path = tmp_path / "job.checkpoint.npz"
    save_checkpoint(path, {}, {"codes": np.zeros((1 << 22,), np.uint8)})
    with np.load(path, allow_pickle=False) as data:
        stored = {key: data[key] for key in data.files}
    with open(path, "wb") as file:
        np.savez_compressed(file, **stored)
    with pytest.raises(ValueError, match="more than the .* of the file"):
        load_checkpoint(path)


def test_compress_refuses_a_checkpoint_from_an_older_version(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((40, 4))
    path = tmp_path / "job.checkpoint.npz"
    with open(path, "wb") as file:
        np.savez(file, __state__=np.array('{"stage": "search"}'))
    with pytest.raises(ValueError, match="missing __checksum__.*Delete it"):
        compress(vectors, 2, 4, checkpoint_path=str(path), verbose=0)


def test_lock_file(tmp_path):
    # Case 16, at the level of the lock.
    path = tmp_path / "out.npz.lock"
    with lock_file(path):
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(ValueError, match=f"process {os.getpid()} is"):
            with lock_file(path):
                pass
    assert not path.exists()
    path.write_text("garbage")
    with pytest.raises(ValueError, match="another process holds this lock"):
        with lock_file(path):
            pass
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    path.write_text(f"{finished.pid}\n")
    with lock_file(path):  # Its process has ended: taken over.
        assert path.read_text() == f"{os.getpid()}\n"
    assert not path.exists()


def test_compress_checks_rows_range_and_size_up_front():
    # Cases 9, 10 and 15, in the library.
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((16, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="besides the 1 held out"):
        compress(vectors, 2, 16, verbose=0)
    assert compress(vectors, 2, 16, validation_split=0.0, verbose=0)
    with pytest.raises(ValueError, match="squared distances overflow"):
        compress(vectors * np.float32(1e36), 2, 4, verbose=0)
    with pytest.raises(ValueError, match="nothing would be saved"):
        compress(vectors, 32, 16, validation_split=0.0, verbose=0)  # 128 bits
    with pytest.raises(ValueError, match="must not be empty"):
        compress(np.zeros((0, 4)), 2, 4, verbose=0)


def test_artifact_error_for_unreadable_file(tmp_path):
    path = tmp_path / "a.npz"
    CompressedTable([[0]], [[[1.0], [2.0]]]).save(path)
    os.chmod(path, 0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who reads any file")
    with pytest.raises(ArtifactError, match="cannot read the file"):
        CompressedTable.load(path)
