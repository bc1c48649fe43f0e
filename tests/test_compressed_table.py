import hashlib
import json
import os
import stat

import numpy as np
import pytest

from keras_dccl.compressed_table import ArtifactError
from keras_dccl.compressed_table import CompressedTable

WORDS = ["the", "café", "naïve", "日本", "😀", "Straße", "x"]
EXTRA = {"recipe": {"num_codebooks": 5, "epochs": 2}, "metrics": {"mse": 0.5}}


def random_embedding(num_words=7, num_codebooks=5, codebook_size=10, dim=3):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, codebook_size, size=(num_words, num_codebooks))
    codebooks = rng.normal(size=(num_codebooks, codebook_size, dim))
    return codes, codebooks


@pytest.fixture
def embedding():
    codes, codebooks = random_embedding()
    return CompressedTable(codes, codebooks, WORDS, EXTRA)


def read_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_npz(path, arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def write_npy(path, array):
    with open(path, "wb") as file:
        np.save(file, array)


def header(arrays):
    return json.loads(arrays["metadata"].item())


def with_header(arrays, **changes):
    """Returns `arrays` with the JSON metadata updated by `changes`."""
    return dict(arrays, metadata=np.array(json.dumps(header(arrays) | changes)))


def reference_words(arrays):
    """The words of a stored vocabulary (either format version), or []."""
    if "vocabulary" in arrays:
        return arrays["vocabulary"].tolist()
    data = arrays.get("vocabulary_bytes", np.zeros(0, np.uint8)).tobytes()
    offsets = arrays.get("vocabulary_offsets", [0]).tolist()
    return [data[a:b].decode("utf-8") for a, b in zip(offsets, offsets[1:])]


def reference_checksum(arrays):
    """The documented checksum, computed independently of the package."""
    data = arrays["codes"].tobytes() + arrays["codebooks"].tobytes()
    for word in reference_words(arrays):
        data += word.encode("utf-8") + b"\0"
    covered = header(arrays)
    if covered["format_version"] >= 2:
        covered.pop("checksum", None)
        data += json.dumps(covered, sort_keys=True).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def with_checksum(arrays, **changes):
    """`with_header`, then the checksum recomputed (a consistent edit)."""
    arrays = with_header(arrays, **changes)
    return with_header(arrays, checksum=reference_checksum(arrays))


def test_reconstruct_matches_reference():
    codes, codebooks = random_embedding(num_words=50, codebook_size=16, dim=7)
    embedding = CompressedTable(codes, codebooks)
    expected = np.array(
        [
            sum(codebooks[m, codes[word, m]] for m in range(codes.shape[1]))
            for word in range(codes.shape[0])
        ]
    )

    vectors = embedding.reconstruct(batch_size=7)
    assert vectors.dtype == np.float32
    assert vectors.shape == (50, 7)
    np.testing.assert_allclose(vectors, expected, rtol=1e-5, atol=1e-5)

    ids = [3, 49, 3, 0]
    np.testing.assert_allclose(
        embedding.reconstruct(ids, batch_size=3), expected[ids], atol=1e-5
    )


def test_reconstruct_known_weights():
    codebooks = np.arange(8, dtype="float32").reshape(2, 2, 2)
    embedding = CompressedTable([[0, 1], [1, 0]], codebooks, ["a", "b"])
    # Row 0: [0, 1] + [6, 7]; row 1: [2, 3] + [4, 5].
    np.testing.assert_array_equal(embedding.reconstruct(), [[6, 8], [6, 8]])
    np.testing.assert_array_equal(embedding.lookup("b"), [6, 8])
    assert embedding.index("b") == 1


def test_evaluate_by_hand():
    codebooks = np.array([[[0.0, 0.0], [1.0, 1.0]]])
    embedding = CompressedTable([[0], [1]], codebooks)
    vectors = np.array([[3.0, 4.0], [1.0, 1.0]])
    # Distances: |[3, 4]| = 5 and 0. Squared errors: 9 + 16 + 0 + 0 = 25.
    result = embedding.evaluate(vectors, batch_size=1)
    assert result == {"mean_distance": 2.5, "mean_squared_error": 6.25}


def test_evaluate_matches_reconstruct(embedding):
    vectors = np.random.default_rng(2).normal(size=(7, 3))
    difference = vectors - embedding.reconstruct()
    result = embedding.evaluate(vectors, batch_size=2)
    np.testing.assert_allclose(
        result["mean_distance"], np.linalg.norm(difference, axis=1).mean()
    )
    np.testing.assert_allclose(
        result["mean_squared_error"], np.mean(difference**2)
    )


def test_sizes():
    for codebook_size, code_bytes_per_word in [(16, 3), (17, 5)]:
        codes, codebooks = random_embedding(codebook_size=codebook_size)
        embedding = CompressedTable(codes, codebooks)
        size = 7 * code_bytes_per_word + 5 * codebook_size * 3 * 4
        assert embedding.size_bytes == size
        assert embedding.float32_bytes == 7 * 3 * 4
        assert embedding.compression_ratio == 7 * 3 * 4 / size
        assert embedding.bits_per_word == 5 * (4 if codebook_size == 16 else 5)
    assert (embedding.num_words, embedding.num_codebooks) == (7, 5)
    assert (embedding.codebook_size, embedding.output_dim) == (17, 3)


def test_stored_types(embedding):
    assert embedding.codes.dtype == np.uint8
    assert embedding.codebooks.dtype == np.float32
    assert embedding.vocabulary == WORDS
    assert embedding.metadata == EXTRA
    assert "num_words=7" in repr(embedding)
    summary = embedding.summary()
    for text in ["words", "7", "bits per word", "ratio", "yes", "recipe"]:
        assert text in summary


def test_invalid_arguments():
    codes, codebooks = random_embedding()
    nan_codebooks = codebooks.copy()
    nan_codebooks[0, 0, 0] = np.nan
    cases = [
        ({"codes": codes.astype(float)}, "`codes` must be a 2-D integer"),
        ({"codes": codes[0]}, "`codes` must be a 2-D integer"),
        ({"codes": codes + 10}, r"`codes` must be in \[0, codebook_size=10\)"),
        ({"codes": codes - 10}, r"`codes` must be in \[0"),
        ({"codes": codes[:, :4]}, "one column per codebook"),
        ({"codebooks": codebooks[0]}, "`codebooks` must be a 3-D float"),
        ({"codebooks": nan_codebooks}, "finite"),
        ({"codebooks": np.zeros((5, 257, 3))}, "at most 256"),
        ({"vocabulary": WORDS[:-1]}, "one word per row"),
        ({"vocabulary": WORDS[:-1] + ["the"]}, "unique.*'the'"),
        ({"vocabulary": WORDS[:-1] + [7]}, "strings"),
        ({"vocabulary": WORDS[:-1] + ["a\0"]}, "NUL"),
        ({"vocabulary": "abcdefg"}, "not a string"),
        ({"metadata": [1]}, "`metadata` must be None or a dict"),
        ({"metadata": {"a": object()}}, "JSON-serializable"),
    ]
    for changes, message in cases:
        arguments = {"codes": codes, "codebooks": codebooks} | changes
        with pytest.raises(ValueError, match=message):
            CompressedTable(**arguments)


def test_invalid_calls(embedding):
    cases = [
        (lambda: embedding.evaluate(np.zeros((7, 4))), "shape"),
        (lambda: embedding.reconstruct([7]), "ids"),
        (lambda: embedding.reconstruct([0.5]), "ids"),
        (lambda: embedding.reconstruct(batch_size=0), "batch_size"),
        (lambda: embedding.lookup("missing"), "'missing'"),
        (
            lambda: CompressedTable([[0]], [[[1.0]]]).lookup("a"),
            "no vocabulary.*'a'",
        ),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_save_load_round_trip(embedding, tmp_path):
    path = tmp_path / "embedding.dccl"
    embedding.save(path)
    # Written to exactly the given path, without an added ".npz".
    assert os.listdir(tmp_path) == ["embedding.dccl"]

    loaded = CompressedTable.load(path)
    np.testing.assert_array_equal(loaded.codes, embedding.codes)
    np.testing.assert_array_equal(loaded.codebooks, embedding.codebooks)
    assert loaded.vocabulary == WORDS
    assert loaded.metadata == EXTRA
    assert loaded.lookup("日本").tolist() == embedding.lookup("日本").tolist()


def test_round_trip_without_vocabulary(tmp_path):
    codes, codebooks = random_embedding(codebook_size=200)
    path = tmp_path / "embedding.npz"
    CompressedTable(codes, codebooks).save(path)
    assert "vocabulary" not in read_npz(path)

    loaded = CompressedTable.load(str(path))
    np.testing.assert_array_equal(loaded.codes, codes)
    assert loaded.vocabulary is None
    assert loaded.metadata == {}


def test_file_contents(embedding, tmp_path):
    path = tmp_path / "embedding.npz"
    embedding.save(path)
    arrays = read_npz(path)
    # Codes in [0, 10) are stored two per byte: 5 codes take 3 bytes.
    assert arrays["codes"].dtype == np.uint8
    assert arrays["codes"].shape == (7, 3)
    np.testing.assert_array_equal(
        arrays["codes"][:, 0],
        embedding.codes[:, 0] | embedding.codes[:, 1] << 4,
    )
    assert arrays["codebooks"].dtype == np.float32
    assert arrays["vocabulary_bytes"].dtype == np.uint8
    assert arrays["vocabulary_bytes"].tobytes() == "".join(WORDS).encode()
    assert arrays["vocabulary_offsets"].dtype == np.int64
    assert arrays["vocabulary_offsets"].tolist() == [
        len("".join(WORDS[:i]).encode()) for i in range(len(WORDS) + 1)
    ]
    assert sorted(arrays) == [
        "codebooks", "codes", "metadata", "vocabulary_bytes",
        "vocabulary_offsets",
    ]  # fmt: skip
    assert arrays["metadata"].shape == ()
    assert embedding.size_bytes == (
        arrays["codes"].nbytes + arrays["codebooks"].nbytes
    )
    assert header(arrays) == {
        "format": "keras-dccl",
        "format_version": 2,
        "num_words": 7,
        "num_codebooks": 5,
        "codebook_size": 10,
        "output_dim": 3,
        "packed": True,
        "extra": EXTRA,
        "checksum": reference_checksum(arrays),
    }


def test_save_is_atomic(embedding, monkeypatch, tmp_path):
    path = tmp_path / "embedding.npz"
    path.write_bytes(b"previous content")

    def failing_savez(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        embedding.save(path)
    assert path.read_bytes() == b"previous content"
    assert os.listdir(tmp_path) == ["embedding.npz"]


def corrupt_codebooks(arrays):
    codebooks = arrays["codebooks"].copy()
    codebooks.view(np.uint8)[0] ^= 1  # Lowest mantissa bit: still finite.
    return dict(arrays, codebooks=codebooks)


def out_of_range_codes(arrays):
    codes = arrays["codes"].copy()
    codes[0, 0] = 0xCC  # Code 12 in both nibbles, with codebook_size 10.
    return with_checksum(dict(arrays, codes=codes))


def infinite_codebooks(arrays):
    codebooks = arrays["codebooks"].copy()
    codebooks[1, 2, 0] = np.inf
    return with_checksum(dict(arrays, codebooks=codebooks))


def without(key):
    return lambda arrays: {k: v for k, v in arrays.items() if k != key}


@pytest.mark.parametrize(
    "change, message",
    [
        (corrupt_codebooks, "checksum mismatch"),
        (without("codebooks"), "missing array 'codebooks'"),
        (without("metadata"), "missing array 'metadata'"),
        (lambda a: with_header(a, format_version=3), "format_version=3"),
        (lambda a: with_header(a, extra={"x": 1}), "checksum mismatch"),
        (lambda a: with_header(a, format="other"), "not a keras-dccl"),
        (lambda a: with_header(a, num_words=8), r"\(8,\), expected .*\(9,\)"),
        (lambda a: with_header(a, output_dim=4), r"codebooks have .*\(5, 10"),
        (lambda a: with_header(a, packed=False), "packed=False"),
        (lambda a: with_header(a, codebook_size=300), "at most 256"),
        (
            lambda a: dict(a, vocabulary_offsets=a["vocabulary_offsets"][:-1]),
            r"vocabulary_offsets have .*\(8,\)",
        ),
        (without("vocabulary_bytes"), "missing array 'vocabulary_bytes'"),
        (
            lambda a: dict(a, vocabulary_bytes=a["vocabulary_bytes"][:-1]),
            "vocabulary_bytes",
        ),
        (lambda a: dict(a, metadata=np.array("{")), "not valid JSON"),
        (out_of_range_codes, r"codes in \[0, 12\]"),
        (infinite_codebooks, "finite"),
    ],
)
def test_load_rejects_bad_content(embedding, tmp_path, change, message):
    path = tmp_path / "embedding.npz"
    embedding.save(path)
    write_npz(path, change(read_npz(path)))
    with pytest.raises(ArtifactError, match=message) as info:
        CompressedTable.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "write, message",
    [
        (None, "no such file"),
        (lambda path: path.write_text("hello\n"), "not an .npz.*text"),
        (lambda path: path.write_bytes(b""), "empty"),
        (lambda path: (path.unlink(), path.mkdir()), "is a directory"),
        (lambda path: write_npy(path, np.zeros(3)), "not an .npz archive"),
        (
            lambda path: path.write_bytes(path.read_bytes()[:300]),
            "not a readable .npz",
        ),
    ],
)
def test_load_rejects_bad_files(embedding, tmp_path, write, message):
    path = tmp_path / "embedding.npz"
    if write is not None:
        embedding.save(path)
        write(path)
    with pytest.raises(ArtifactError, match=message) as info:
        CompressedTable.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_saved_file_has_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "a.npz"
        CompressedTable(
            np.zeros((3, 2), np.uint8), np.zeros((2, 4, 5), np.float32)
        ).save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    finally:
        os.umask(umask)
