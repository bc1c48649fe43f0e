import contextlib
import gzip
import itertools
import os

import numpy as np

from keras_dccl.readers.vector_file_error import VectorFileError
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.npz_file import NPY_MAGIC
from keras_dccl.utils.npz_file import ZIP_MAGIC

FORMATS = ("auto", "glove", "word2vec", "word2vec_binary", "npy")

# Longest token quoted in an error message.
_QUOTE_LENGTH = 20
# Longest word, in UTF-8 bytes, of any format: longer ones are refused as
# corrupt (in binary word2vec, a guard against reading the file as one word).
_MAX_WORD_BYTES = 4096
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def read_vectors(path, vocabulary_path=None, format="auto", max_words=None):
    """Reads a table of word vectors from a GloVe, word2vec or `.npy` file.

    Formats:

    - `"glove"`: text, one `word value ... value` line per word, no header.
      The dimension is the number of fields of the first line minus one.
    - `"word2vec"`: text, a header line `count dimension`, then `count` lines
      as in GloVe.
    - `"word2vec_binary"`: a header line `count dimension`, then for each word
      its UTF-8 bytes, a space and `dimension` little-endian float32 values,
      optionally followed by a newline.
    - `"npy"`: a floating-point array of shape `(words, dimension)`, with the
      words (if any) in `vocabulary_path`, a UTF-8 text file of one word per
      line.
    - `"auto"` (default): `.npy` files are `"npy"`, `.bin` files
      `"word2vec_binary"`; any other file is text: `"word2vec"` if its first
      line holds two integers, else `"glove"`.

    Text and binary files ending in `.gz` are decompressed on the fly. Text
    is UTF-8; a leading byte-order mark is skipped. Fields are separated by
    ASCII whitespace, so words may hold any other character (such as a
    non-breaking space). Words longer than 4096 UTF-8 bytes are refused.
    Values are stored as float32.

    Args:
        path: String or path-like. The vectors file.
        vocabulary_path: String, path-like or `None`. The words of a `"npy"`
            file, one per line; the file must have one line per row.
        format: String. One of `"auto"`, `"glove"`, `"word2vec"`,
            `"word2vec_binary"` or `"npy"`.
        max_words: Integer or `None`. Read only the first `max_words`
            vectors; the rest of the file is not read (nor checked).

    Returns:
        A tuple `(words, vectors)`: `words` is a list of strings, or `None`
        for a `"npy"` file read without a vocabulary; `vectors` is a float32
        NumPy array of shape `(len(words), dimension)`.

    Raises:
        VectorFileError: The file is missing, empty or malformed (wrong
            number of fields, a value that is not a number, NaN or Inf, a
            duplicate word, a vocabulary of the wrong length, ...). The
            message names the file and, where one applies, the line.
        ValueError: An argument is invalid.

    Example:

    >>> words, vectors = read_vectors("glove.6B.50d.txt", max_words=50000)
    >>> vectors.shape
    (50000, 50)
    """
    if format not in FORMATS:
        raise ValueError(
            f"Argument `format` must be one of {', '.join(FORMATS)}. "
            f"Received: format={format!r}"
        )
    if max_words is not None:
        max_words = check_integer("max_words", max_words)
    path = os.fspath(path)
    if format == "auto":
        format = _format_from_name(path)
    if vocabulary_path is not None and format != "npy":
        raise ValueError(
            "Argument `vocabulary_path` is only used with the 'npy' format; "
            f"{path} holds its own words. "
            f"Received: vocabulary_path={vocabulary_path!r}"
        )
    limit = None if max_words is None else int(max_words)
    _check_file(path)
    if format == "npy":
        return _read_npy(path, vocabulary_path, limit)
    if format == "word2vec_binary":
        return _read_word2vec_binary(path, limit)
    return _read_text(path, format, limit)


def _format_from_name(path):
    """Returns "npy", "word2vec_binary" or "text" (glove or word2vec)."""
    name = path.lower().removesuffix(".gz")
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".bin"):
        return "word2vec_binary"
    return "text"


def _check_file(path):
    if not os.path.isfile(path):
        reason = "Not a file." if os.path.exists(path) else "No such file."
        raise VectorFileError(path, reason)


@contextlib.contextmanager
def _reading(path):
    """Opens `path` for reading bytes, decompressing a `.gz` file."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            yield file
    except (OSError, EOFError) as error:
        reason = getattr(error, "strerror", None) or error
        message = f"Cannot read the file: {reason}."
        raise VectorFileError(path, message) from None


def _read_text(path, format, limit):
    with _reading(path) as file:
        first = _first_line(path, file)
        if format == "word2vec" or (
            format == "text" and _parse_header(first) is not None
        ):
            count, dimension = _read_header(path, first)
            entries = _text_entries(path, file, 2, dimension, count)
            return _collect(path, entries, dimension, limit, "line", 2)
        dimension = len(first.split()) - 1
        if dimension < 1:
            message = f"Expected a word and its values, found {_quote(first)}."
            raise VectorFileError(path, message, line=1)
        lines = itertools.chain([first], file)
        entries = _text_entries(path, lines, 1, dimension)
        return _collect(path, entries, dimension, limit, "line", 1)


def _read_word2vec_binary(path, limit):
    with _reading(path) as file:
        count, dimension = _read_header(path, _first_line(path, file))
        entries = _binary_entries(path, file, count, dimension)
        return _collect(path, entries, dimension, limit, "entry", 1)


def _first_line(path, file):
    """The first line, without a UTF-8 byte-order mark."""
    line = file.readline().removeprefix(_BYTE_ORDER_MARK)
    if not line:
        raise VectorFileError(path, "The file is empty.", line=1)
    if line.startswith(ZIP_MAGIC) or line.startswith(NPY_MAGIC):
        kind = "a zip (.npz)" if line.startswith(ZIP_MAGIC) else "a .npy"
        raise VectorFileError(
            path,
            f"This is {kind} file, not a text or word2vec vectors file; a "
            "keras-dccl artifact is read by `evaluate` and `info`.",
        )
    return line


def _parse_header(line):
    """Returns `(count, dimension)` if `line` is two integers, else None."""
    fields = line.split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        return int(fields[0]), int(fields[1])
    return None


def _read_header(path, line):
    header = _parse_header(line)
    if header is None or min(header) < 1:
        raise VectorFileError(
            path,
            "Expected a header of two positive integers, the word count and "
            f"the dimension, found {_quote(line)}.",
            line=1,
        )
    return header


def _text_entries(path, lines, first_line, dimension, count=None):
    """Yields `(line number, word, value tokens)` of `word v1 ... vD` lines.

    With `count` (from a word2vec header), exactly `count` lines must follow
    the header; blank lines after them are ignored.
    """
    number = first_line - 1
    for number, line in enumerate(
        itertools.islice(lines, count), start=first_line
    ):
        fields = line.split()
        if len(fields) != dimension + 1:
            raise VectorFileError(
                path, _count_message(dimension, len(fields)), number
            )
        yield number, fields[0], fields[1:]
    if count is None:
        return
    if number - first_line + 1 < count:
        raise VectorFileError(
            path,
            f"The header declares {count} words, but the file has only "
            f"{number - first_line + 1}.",
            line=1,
        )
    for number, line in enumerate(lines, start=number + 1):
        if line.strip():
            raise VectorFileError(
                path,
                f"The header (line 1) declares {count} words, but the file "
                "has more lines.",
                line=number,
            )


def _binary_entries(path, file, count, dimension):
    """Yields `(entry number, word, values)` of a binary word2vec file."""
    size = 4 * dimension
    for entry in range(1, count + 1):
        word = _read_word(path, file, entry)
        if word is None:
            raise VectorFileError(
                path,
                f"The header declares {count} words, but the file has only "
                f"{entry - 1}.",
                line=1,
            )
        values = file.read(size)
        if len(values) < size:
            raise _error(
                path,
                f"The vector of {_quote(word)} is truncated: expected {size} "
                f"bytes, found {len(values)}.",
                "entry",
                entry,
            )
        yield entry, word, np.frombuffer(values, dtype="<f4")
    if file.read(_MAX_WORD_BYTES).strip():
        raise VectorFileError(
            path,
            f"The header declares {count} words, but more data follows "
            f"entry {count}.",
            line=1,
        )


def _read_word(path, file, entry):
    """Reads the bytes before the next space; None at the end of the file."""
    word = b""
    while len(word) <= _MAX_WORD_BYTES:
        buffered = file.peek(1)
        if not buffered:
            if word.strip():
                raise _error(
                    path,
                    f"The file ends in the word {_quote(word)}.",
                    "entry",
                    entry,
                )
            return None
        end = buffered.find(b" ")
        if end >= 0:
            word += file.read(end + 1)[:-1]
            if len(word) > _MAX_WORD_BYTES:
                break
            # A newline may end the previous vector.
            return word.lstrip(b"\n")
        word += file.read(len(buffered))
    raise _error(
        path,
        f"Found no space after the word within {_MAX_WORD_BYTES} bytes.",
        "entry",
        entry,
    )


def _collect(path, entries, dimension, limit, unit, first_position):
    """Gathers `(position, word bytes, values)` entries into a table.

    The one parser behind the text and binary formats: decodes and checks
    the words, parses the values into a float32 buffer that grows in place,
    and rejects NaN and Inf. Positions are consecutive `unit`s ("line",
    "entry") starting at `first_position`.
    """
    vectors = np.empty((0, dimension), dtype=np.float32)
    first_seen = {}
    rows = 0
    try:
        with np.errstate(over="ignore"):
            for position, word, values in itertools.islice(entries, limit):
                _add_word(path, first_seen, word, unit, position)
                if rows == len(vectors):
                    # Grows by half with realloc, usually without a copy; no
                    # view of `vectors` exists, so no reference check.
                    new_shape = (rows + rows // 2 + 1, dimension)
                    vectors.resize(new_shape, refcheck=False)
                try:
                    vectors[rows] = values
                except ValueError:
                    message = _value_message(values)
                    raise _error(path, message, unit, position) from None
                rows += 1
    except VectorFileError:
        _check_finite(path, vectors[:rows], unit, first_position)
        raise
    vectors.resize((rows, dimension), refcheck=False)
    _check_finite(path, vectors, unit, first_position)
    return list(first_seen), vectors


def _add_word(path, first_seen, word, unit, position):
    """Decodes `word` and records where it first appeared."""
    if len(word) > _MAX_WORD_BYTES:
        message = (
            f"The word {_quote(word)} is {len(word):,} bytes long, over the "
            f"limit of {_MAX_WORD_BYTES:,}; is the file corrupt?"
        )
        raise _error(path, message, unit, position)
    try:
        word = word.decode("utf-8")
    except UnicodeDecodeError:
        message = f"The word {_quote(word)} is not valid UTF-8."
        raise _error(path, message, unit, position) from None
    if not word:
        raise _error(path, "The word is empty.", unit, position)
    first = first_seen.setdefault(word, position)
    if first != position:
        message = (
            f"Duplicate word {_quote(word)}; first seen on {unit} {first}."
        )
        raise _error(path, message, unit, position)


def _read_npy(path, vocabulary_path, limit):
    _check_npy_magic(path)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except EOFError:
        raise VectorFileError(path, "The file is empty.") from None
    except (OSError, ValueError) as error:
        message = f"Cannot read the .npy file: {error}"
        raise VectorFileError(path, message) from None
    if array.dtype.kind != "f":
        raise VectorFileError(
            path, f"Expected floating-point values, found dtype {array.dtype}."
        )
    if array.ndim != 2 or 0 in array.shape:
        raise VectorFileError(
            path,
            "Expected a non-empty 2-D array of shape (words, dimension), "
            f"found shape {array.shape}.",
        )
    words = None
    if vocabulary_path is not None:
        words = _read_vocabulary(os.fspath(vocabulary_path), path, len(array))
        words = words[:limit]
    with np.errstate(over="ignore"):
        vectors = np.array(array[:limit], dtype=np.float32)
    _check_finite(path, vectors, "row", 1)
    return words, vectors


def _check_npy_magic(path):
    with _reading(path) as file:
        start = file.read(len(NPY_MAGIC))
    if not start:
        raise VectorFileError(path, "The file is empty.")
    if start != NPY_MAGIC:
        what = "a zip (.npz) archive" if start.startswith(ZIP_MAGIC) else (
            "text or another format"
        )
        raise VectorFileError(
            path,
            f"Not a .npy array file: it does not start with the .npy "
            f"signature (it looks like {what}).",
        )


def _read_vocabulary(path, array_path, count):
    """Reads one word per line; there must be `count` lines."""
    _check_file(path)
    first_seen = {}
    with _reading(path) as file:
        for number, line in enumerate(file, start=1):
            if number == 1:
                line = line.removeprefix(_BYTE_ORDER_MARK)
            _add_word(path, first_seen, line.rstrip(b"\r\n"), "line", number)
    if len(first_seen) != count:
        raise VectorFileError(
            path,
            f"The vocabulary has {len(first_seen)} words, but the array "
            f"{array_path} has {count} rows.",
            line=min(len(first_seen), count) + 1,
        )
    return list(first_seen)


def _check_finite(path, vectors, unit, first_position):
    finite = np.isfinite(vectors)
    bad_rows = np.flatnonzero(~finite.all(axis=1))
    if bad_rows.size:
        row = int(bad_rows[0])
        column = int(np.flatnonzero(~finite[row])[0])
        message = (
            f"Value {column + 1} of {vectors.shape[1]} is "
            f"{vectors[row, column]}; NaN, Inf and values beyond the float32 "
            "range are not allowed."
        )
        raise _error(path, message, unit, first_position + row)


def _count_message(dimension, found):
    message = f"Expected {dimension + 1} fields (a word and {dimension} values)"
    if found == 0:
        return f"{message}, found an empty line."
    message = f"{message}, found {found}."
    if found > dimension + 1:
        message += " Does the word contain a space?"
    return message


def _value_message(values):
    for column, token in enumerate(values, start=1):
        try:
            np.float32(token)
        except ValueError:
            return (
                f"Value {column} of {len(values)} is not a number: "
                f"{_quote(token)}."
            )
    return "A value is not a number."


def _error(path, message, unit, position):
    """Locates an error on a line, or on an entry or row of a binary file."""
    if unit == "line":
        return VectorFileError(path, message, line=position)
    return VectorFileError(path, f"{unit.capitalize()} {position}: {message}")


def _quote(token):
    """Quotes a word or token for an error message, shortened if long."""
    if isinstance(token, bytes):
        token = token.decode("utf-8", "replace")
    token = token.strip()
    if len(token) > _QUOTE_LENGTH:
        token = token[:_QUOTE_LENGTH] + "..."
    return repr(token)
