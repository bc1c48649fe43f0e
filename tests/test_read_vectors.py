import gzip
import pickle
import re
import warnings

import numpy as np
import pytest

from keras_dccl.readers import VectorFileError
from keras_dccl.readers import read_vectors

# Non-ASCII words, one with a non-breaking space (not a field separator).
WORDS = ["the", ",", "café", "東京", "a\u00a0b", "naïve"]
DIMENSION = 4


def make_vectors(num_words=len(WORDS)):
    rng = np.random.default_rng(0)
    return rng.normal(scale=3.0, size=(num_words, DIMENSION)).astype("f4")


def text_lines(words, vectors):
    # repr() of the float64 copy of a float32 parses back to it exactly.
    return [
        word + " " + " ".join(repr(float(value)) for value in row)
        for word, row in zip(words, vectors)
    ]


def write_text(path, lines, newline="\n"):
    path.write_bytes("".join(line + newline for line in lines).encode())
    return path


def write_binary(path, words, vectors, header=None, newline=b"\n"):
    count, dimension = header or vectors.shape
    data = [f"{count} {dimension}\n".encode()]
    for word, row in zip(words, vectors):
        data.append(word.encode() + b" " + row.astype("<f4").tobytes())
        data.append(newline)
    path.write_bytes(b"".join(data))
    return path


def glove_file(tmp_path, name="vectors.txt"):
    return write_text(tmp_path / name, text_lines(WORDS, make_vectors()))


def assert_read_error(path, line, pattern, error_path=None, **kwargs):
    """Checks that reading fails with `PATH:LINE: ...pattern...`."""
    error_path = str(error_path or path)
    location = error_path if line is None else f"{error_path}:{line}"
    match = "^" + re.escape(location + ": ") + ".*" + pattern
    with pytest.raises(VectorFileError, match=match) as info:
        read_vectors(path, **kwargs)
    assert info.value.path == error_path
    assert info.value.line == line
    assert len(str(info.value).splitlines()) == 1
    return info.value


def assert_table(result, words, vectors):
    read_words, read_vectors_ = result
    assert read_words == words
    assert read_vectors_.dtype == np.float32
    np.testing.assert_array_equal(read_vectors_, vectors)


# Formats read back exactly.


def test_glove_round_trip(tmp_path):
    result = read_vectors(glove_file(tmp_path), format="glove")
    assert_table(result, WORDS, make_vectors())


def test_word2vec_text_round_trip(tmp_path):
    # word2vec.c ends each line with a space; Windows line endings too.
    lines = [f"{len(WORDS)} {DIMENSION}"]
    lines += [line + " " for line in text_lines(WORDS, make_vectors())]
    path = write_text(tmp_path / "vectors.vec", lines, newline="\r\n")
    assert_table(read_vectors(path, format="word2vec"), WORDS, make_vectors())


@pytest.mark.parametrize("newline", [b"\n", b""])
def test_word2vec_binary_round_trip(tmp_path, newline):
    path = write_binary(
        tmp_path / "vectors.bin", WORDS, make_vectors(), newline=newline
    )
    result = read_vectors(path, format="word2vec_binary")
    assert_table(result, WORDS, make_vectors())


def test_npy_with_vocabulary(tmp_path):
    np.save(tmp_path / "vectors.npy", make_vectors())
    write_text(tmp_path / "words.txt", WORDS)
    result = read_vectors(
        tmp_path / "vectors.npy", vocabulary_path=tmp_path / "words.txt"
    )
    assert_table(result, WORDS, make_vectors())


def test_npy_without_vocabulary_casts_to_float32(tmp_path):
    np.save(tmp_path / "vectors.npy", make_vectors().astype(np.float64))
    assert_table(read_vectors(tmp_path / "vectors.npy"), None, make_vectors())


@pytest.mark.parametrize("name", ["vectors.txt.gz", "vectors.vec.gz"])
def test_gzip_text(tmp_path, name):
    lines = text_lines(WORDS, make_vectors())
    if name == "vectors.vec.gz":
        lines = [f"{len(WORDS)} {DIMENSION}"] + lines
    text = "".join(line + "\n" for line in lines)
    (tmp_path / name).write_bytes(gzip.compress(text.encode()))
    assert_table(read_vectors(tmp_path / name), WORDS, make_vectors())


def test_gzip_binary(tmp_path):
    plain = write_binary(tmp_path / "plain", WORDS, make_vectors())
    path = tmp_path / "vectors.bin.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    assert_table(read_vectors(path), WORDS, make_vectors())


def write_content(path, content):
    if content == "word2vec_binary":
        return write_binary(path, WORDS, make_vectors())
    if content == "npy":
        with open(path, "wb") as file:
            np.save(file, make_vectors())
        return path
    lines = text_lines(WORDS, make_vectors())
    if content == "word2vec":
        lines = [f"{len(WORDS)} {DIMENSION}"] + lines
    return write_text(path, lines)


@pytest.mark.parametrize(
    "name, content",
    [
        ("vectors.txt", "glove"),
        ("vectors", "glove"),
        ("vectors.txt", "word2vec"),
        ("vectors.vec", "word2vec"),
        ("vectors.bin", "word2vec_binary"),
        ("VECTORS.BIN", "word2vec_binary"),
        ("vectors.npy", "npy"),
    ],
)
def test_auto_detection(tmp_path, name, content):
    path = write_content(tmp_path / name, content)
    words = None if content == "npy" else WORDS
    assert_table(read_vectors(path), words, make_vectors())
    assert_table(read_vectors(path, format=content), words, make_vectors())


@pytest.mark.parametrize(
    "name, content",
    [
        ("vectors.bin", "glove"),
        ("vectors.dat", "word2vec_binary"),
        ("vectors.txt", "npy"),
        ("vectors.npy", "word2vec"),
    ],
)
def test_explicit_format_overrides_the_name(tmp_path, name, content):
    path = write_content(tmp_path / name, content)
    words = None if content == "npy" else WORDS
    assert_table(read_vectors(path, format=content), words, make_vectors())


# max_words stops reading: the broken part after the first rows is not read.


def test_max_words_glove(tmp_path):
    lines = text_lines(WORDS, make_vectors()) + ["broken line"]
    path = write_text(tmp_path / "vectors.txt", lines)
    assert_table(read_vectors(path, max_words=3), WORDS[:3], make_vectors()[:3])
    assert_read_error(path, 7, "Expected 5 fields")


def test_max_words_word2vec_text(tmp_path):
    lines = [f"{len(WORDS) + 1} {DIMENSION}"]
    lines += text_lines(WORDS, make_vectors()) + ["broken line"]
    path = write_text(tmp_path / "vectors.vec", lines)
    result = read_vectors(path, max_words=len(WORDS))
    assert_table(result, WORDS, make_vectors())
    assert_read_error(path, 8, "Expected 5 fields")


def test_max_words_binary(tmp_path):
    path = write_binary(tmp_path / "vectors.bin", WORDS, make_vectors())
    path.write_bytes(path.read_bytes()[:-10])
    assert_table(read_vectors(path, max_words=5), WORDS[:5], make_vectors()[:5])


def test_max_words_npy(tmp_path):
    np.save(tmp_path / "vectors.npy", make_vectors())
    write_text(tmp_path / "words.txt", WORDS)
    result = read_vectors(
        tmp_path / "vectors.npy",
        vocabulary_path=tmp_path / "words.txt",
        max_words=np.int64(2),
    )
    assert_table(result, WORDS[:2], make_vectors()[:2])


def test_max_words_beyond_the_file(tmp_path):
    result = read_vectors(glove_file(tmp_path), max_words=10**6)
    assert_table(result, WORDS, make_vectors())


def test_many_rows_grow_the_buffer(tmp_path):
    words = [f"word{index}" for index in range(3000)]
    vectors = np.arange(3000 * DIMENSION, dtype="f4").reshape(3000, -1)
    path = write_text(tmp_path / "vectors.txt", text_lines(words, vectors))
    assert_table(read_vectors(path), words, vectors)


# Arguments.


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"format": "csv"}, "format='csv'"),
        ({"format": None}, "format=None"),
        ({"max_words": 0}, "max_words=0"),
        ({"max_words": -1}, "max_words=-1"),
        ({"max_words": 1.5}, "max_words=1.5"),
        ({"max_words": True}, "max_words=True"),
        ({"max_words": "3"}, "max_words='3'"),
        ({"vocabulary_path": "words.txt"}, "vocabulary_path='words.txt'"),
        (
            {"vocabulary_path": "words.txt", "format": "word2vec_binary"},
            "vocabulary_path='words.txt'",
        ),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, received):
    argument = received.split("=")[0]
    message = f"`{argument}` .* Received: {re.escape(received)}$"
    with pytest.raises(ValueError, match=message) as info:
        read_vectors(glove_file(tmp_path), **kwargs)
    assert type(info.value) is ValueError


# Errors of every format name the file and the line.


def test_missing_file(tmp_path):
    error = assert_read_error(tmp_path / "missing.txt", None, "No such file")
    assert str(error) == f"{tmp_path / 'missing.txt'}: No such file."


def test_directory(tmp_path):
    assert_read_error(tmp_path, None, "Not a file")


@pytest.mark.parametrize("format", ["glove", "word2vec", "word2vec_binary"])
def test_empty_file(tmp_path, format):
    path = tmp_path / "vectors"
    path.write_bytes(b"")
    assert_read_error(path, 1, "The file is empty", format=format)


def test_empty_gzip_file(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(b""))
    assert_read_error(path, 1, "The file is empty")


def test_empty_npy_file(tmp_path):
    path = tmp_path / "vectors.npy"
    path.write_bytes(b"")
    assert_read_error(path, None, "The file is empty")


def test_word_with_spaces(tmp_path):
    lines = text_lines(WORDS, make_vectors())
    lines[2] = "new york " + lines[2].split(" ", 1)[1]
    path = write_text(tmp_path / "vectors.txt", lines)
    assert_read_error(
        path,
        3,
        re.escape(
            "Expected 5 fields (a word and 4 values), found 6. "
            "Does the word contain a space?"
        ),
    )


def test_missing_value(tmp_path):
    lines = text_lines(WORDS, make_vectors())
    lines[1] = lines[1].rsplit(" ", 1)[0]
    path = write_text(tmp_path / "vectors.txt", lines)
    assert_read_error(path, 2, r"Expected 5 fields .*, found 4\.$")


def test_empty_line(tmp_path):
    lines = text_lines(WORDS, make_vectors())
    path = write_text(tmp_path / "vectors.txt", lines[:2] + [""] + lines[2:])
    assert_read_error(path, 3, "found an empty line")


def test_word_without_values(tmp_path):
    path = write_text(tmp_path / "vectors.txt", ["lonely"])
    assert_read_error(path, 1, "Expected a word and its values, found 'lonely'")


def test_word2vec_line_of_the_wrong_dimension(tmp_path):
    lines = [f"{len(WORDS)} 3"] + text_lines(WORDS, make_vectors())
    path = write_text(tmp_path / "vectors.vec", lines)
    assert_read_error(path, 2, r"Expected 4 fields \(a word and 3 values\)")


@pytest.mark.parametrize(
    "token, quoted",
    [("abc", "'abc'"), ("1,5", "'1,5'"), ("x" * 50, "'" + "x" * 20 + "...'")],
)
def test_non_numeric_value(tmp_path, token, quoted):
    lines = text_lines(WORDS, make_vectors())
    lines[2] = "café 1.0 " + token + " 2.0 3.0"
    path = write_text(tmp_path / "vectors.txt", lines)
    error = assert_read_error(
        path, 3, re.escape(f"Value 2 of 4 is not a number: {quoted}.")
    )
    assert str(error).endswith(".")


@pytest.mark.parametrize(
    "token, shown",
    [("nan", "nan"), ("-Infinity", "-inf"), ("inf", "inf"), ("1e39", "inf")],
)
def test_non_finite_value(tmp_path, token, shown):
    lines = text_lines(WORDS, make_vectors())
    lines[1] = ", 1.0 2.0 " + token + " 3.0"
    path = write_text(tmp_path / "vectors.txt", lines)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_read_error(path, 2, f"Value 3 of 4 is {shown}; NaN, Inf")


def test_errors_are_reported_in_file_order(tmp_path):
    lines = text_lines(WORDS, make_vectors())
    lines[1] = ", nan 2.0 3.0 4.0"
    lines[4] = "the 1.0 2.0 3.0 4.0"
    path = write_text(tmp_path / "vectors.txt", lines)
    assert_read_error(path, 2, "Value 1 of 4 is nan")


def test_duplicate_word(tmp_path):
    lines = text_lines(WORDS + ["café"], make_vectors(len(WORDS) + 1))
    path = write_text(tmp_path / "vectors.txt", lines)
    assert_read_error(path, 7, "Duplicate word 'café'; first seen on line 3.")


def test_invalid_utf8_word(tmp_path):
    path = glove_file(tmp_path)
    path.write_bytes(path.read_bytes().replace("café".encode(), b"caf\xe9"))
    assert_read_error(path, 3, "The word 'caf.' is not valid UTF-8")


@pytest.mark.parametrize("header", ["", "6", "six 4", "6 4 1", "0 4", "6 -4"])
def test_bad_word2vec_header(tmp_path, header):
    lines = [header] + text_lines(WORDS, make_vectors())
    path = write_text(tmp_path / "vectors.vec", lines)
    assert_read_error(path, 1, "Expected a header", format="word2vec")


def test_word2vec_header_declares_more_words(tmp_path):
    lines = [f"9 {DIMENSION}"] + text_lines(WORDS, make_vectors())
    path = write_text(tmp_path / "vectors.vec", lines)
    assert_read_error(path, 1, "declares 9 words, but the file has only 6")


def test_word2vec_header_declares_fewer_words(tmp_path):
    lines = [f"4 {DIMENSION}"] + text_lines(WORDS, make_vectors()) + [""]
    path = write_text(tmp_path / "vectors.vec", lines)
    assert_read_error(path, 6, "declares 4 words, but the file has more")


def test_word2vec_header_allows_trailing_blank_lines(tmp_path):
    lines = [f"6 {DIMENSION}"] + text_lines(WORDS, make_vectors()) + ["", ""]
    path = write_text(tmp_path / "vectors.vec", lines)
    assert_table(read_vectors(path), WORDS, make_vectors())


def test_corrupt_gzip_file(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(b"not gzip at all")
    assert_read_error(path, None, "Cannot read the file: Not a gzipped file")


def test_truncated_gzip_file(tmp_path):
    text = "".join(line + "\n" for line in text_lines(WORDS, make_vectors()))
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(text.encode())[:-12])
    assert_read_error(path, None, "Cannot read the file: Compressed file ended")


# Binary word2vec errors name the entry (the header is line 1).


def binary_file(tmp_path, words=WORDS, vectors=None, **kwargs):
    vectors = make_vectors(len(words)) if vectors is None else vectors
    return write_binary(tmp_path / "vectors.bin", words, vectors, **kwargs)


def test_binary_truncated_vector(tmp_path):
    path = binary_file(tmp_path, newline=b"")
    path.write_bytes(path.read_bytes()[:-11])
    assert_read_error(
        path,
        None,
        re.escape(
            "Entry 6: The vector of 'naïve' is truncated: expected 16 bytes, "
            "found 5."
        ),
    )


def test_binary_file_ends_in_a_word(tmp_path):
    path = binary_file(tmp_path, header=(7, DIMENSION))
    path.write_bytes(path.read_bytes() + b"extra")
    message = "Entry 7: The file ends in the word 'extra'"
    assert_read_error(path, None, message, format="word2vec_binary")


def test_binary_word_without_space(tmp_path):
    path = binary_file(tmp_path, header=(7, DIMENSION))
    path.write_bytes(path.read_bytes() + b"x" * 5000 + b" ")
    assert_read_error(path, None, "Entry 7: Found no space after the word")


def test_binary_header_declares_more_words(tmp_path):
    path = binary_file(tmp_path, header=(8, DIMENSION))
    assert_read_error(path, 1, "declares 8 words, but the file has only 6")


def test_binary_header_declares_fewer_words(tmp_path):
    path = binary_file(tmp_path, header=(5, DIMENSION))
    assert_read_error(path, 1, "declares 5 words, but more data follows")


def test_binary_bad_header(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"word 1.0 2.0\n")
    assert_read_error(path, 1, "Expected a header .*, found 'word 1.0 2.0'")


def test_binary_invalid_utf8_word(tmp_path):
    path = binary_file(tmp_path)
    path.write_bytes(path.read_bytes().replace(b",", b"\xff"))
    assert_read_error(path, None, "Entry 2: The word '.' is not valid UTF-8")


def test_binary_duplicate_word(tmp_path):
    path = binary_file(tmp_path, words=["the", "of", "the"])
    assert_read_error(
        path, None, "Entry 3: Duplicate word 'the'; first seen on entry 1."
    )


def test_binary_non_finite_value(tmp_path):
    vectors = make_vectors()
    vectors[4, 2] = np.inf
    path = binary_file(tmp_path, vectors=vectors)
    assert_read_error(path, None, "Entry 5: Value 3 of 4 is inf")


# .npy errors name the row (and the vocabulary its line).


def test_npy_one_dimensional(tmp_path):
    np.save(tmp_path / "vectors.npy", np.zeros(5, "f4"))
    assert_read_error(
        tmp_path / "vectors.npy", None, re.escape("found shape (5,)")
    )


def test_npy_integers(tmp_path):
    np.save(tmp_path / "vectors.npy", np.zeros((5, 2), "int64"))
    assert_read_error(
        tmp_path / "vectors.npy",
        None,
        "floating-point values, found dtype int64",
    )


def test_npy_unreadable(tmp_path):
    (tmp_path / "vectors.npy").write_bytes(b"this is not an array")
    assert_read_error(tmp_path / "vectors.npy", None, "Not a .npy array file")


def test_npy_pickled_objects(tmp_path):
    array = np.array([[1.0, None]], dtype=object)
    np.save(tmp_path / "vectors.npy", array, allow_pickle=True)
    assert_read_error(tmp_path / "vectors.npy", None, "Cannot read the .npy")


def test_npy_archive(tmp_path):
    np.savez(tmp_path / "vectors.npz", vectors=make_vectors())
    path = tmp_path / "vectors.npz"
    assert_read_error(path, None, r"looks like a zip \(.npz\)", format="npy")


def test_npy_non_finite_value(tmp_path):
    vectors = make_vectors()
    vectors[1, 0] = np.nan
    np.save(tmp_path / "vectors.npy", vectors)
    assert_read_error(tmp_path / "vectors.npy", None, "Row 2: Value 1 of 4")


@pytest.mark.parametrize(
    "words, line, counts",
    [
        (WORDS[:4], 5, "has 4 words, but the array .* has 6 rows"),
        (WORDS + ["extra"], 7, "has 7 words, but the array .* has 6 rows"),
    ],
)
def test_vocabulary_length_mismatch(tmp_path, words, line, counts):
    np.save(tmp_path / "vectors.npy", make_vectors())
    vocabulary = write_text(tmp_path / "words.txt", words)
    assert_read_error(
        tmp_path / "vectors.npy",
        line,
        counts,
        error_path=vocabulary,
        vocabulary_path=vocabulary,
    )


@pytest.mark.parametrize(
    "replacement, message",
    [
        ("the", "Duplicate word 'the'; first seen on line 1"),
        ("", "The word is empty"),
    ],
)
def test_vocabulary_bad_word(tmp_path, replacement, message):
    np.save(tmp_path / "vectors.npy", make_vectors())
    words = WORDS[:3] + [replacement] + WORDS[4:]
    vocabulary = write_text(tmp_path / "words.txt", words)
    assert_read_error(
        tmp_path / "vectors.npy",
        4,
        message,
        error_path=vocabulary,
        vocabulary_path=vocabulary,
    )


def test_missing_vocabulary(tmp_path):
    np.save(tmp_path / "vectors.npy", make_vectors())
    vocabulary = tmp_path / "words.txt"
    assert_read_error(
        tmp_path / "vectors.npy",
        None,
        "No such file",
        error_path=vocabulary,
        vocabulary_path=vocabulary,
    )


# The error itself.


def test_error_is_one_line():
    error = VectorFileError("a.txt", "First line.\nSecond line.", line=3)
    assert str(error) == "a.txt:3: First line. Second line."
    assert isinstance(error, ValueError)
    assert (error.path, error.line) == ("a.txt", 3)
    assert str(VectorFileError("a.npy", "Bad.")) == "a.npy: Bad."


def test_error_pickles():
    error = pickle.loads(pickle.dumps(VectorFileError("a.txt", "Bad.", 3)))
    assert (str(error), error.path, error.line) == ("a.txt:3: Bad.", "a.txt", 3)
