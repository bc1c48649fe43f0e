import hashlib
import json
import os

import numpy as np

from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.atomic_file import atomic_path
from keras_dccl.utils.code_packing import MAX_CODEBOOK_SIZE
from keras_dccl.utils.code_packing import NIBBLE_CODEBOOK_SIZE
from keras_dccl.utils.code_packing import bits_per_code
from keras_dccl.utils.code_packing import pack_codes
from keras_dccl.utils.code_packing import packed_width
from keras_dccl.utils.code_packing import unpack_codes
from keras_dccl.utils.npz_file import member_names
from keras_dccl.utils.npz_file import open_npz
from keras_dccl.utils.npz_file import read_member
from keras_dccl.utils.reconstruct import reconstruct

FORMAT_NAME = "keras-dccl"
# Version 2 stores the vocabulary as UTF-8 bytes plus offsets and extends the
# checksum over the metadata; version 1 files still load.
FORMAT_VERSION = 2
_READ_VERSIONS = (1, 2)
_HEADER_SIZES = ("num_words", "num_codebooks", "codebook_size", "output_dim")
# Room for the `.npy` header of a member, beside its data.
_NPY_HEADER_BYTES = 1 << 16
# Largest JSON metadata read, and the widest word of a version 1 vocabulary.
_MAX_METADATA_BYTES = 64 << 20
_MAX_V1_WORD_CHARACTERS = 4096
# Metrics of the metadata that `summary` labels as measured over all rows.
_ALL_ROWS_METRICS = ("mean_distance", "mean_squared_error")


class ArtifactError(ValueError):
    """Raised when a compressed-table file is missing or invalid.

    The message is one line and starts with the path of the file.
    """


class CompressedTable:
    """A word-embedding table compressed into discrete codes and codebooks.

    Each of the `num_words` words has `num_codebooks` integer codes in
    `[0, codebook_size)`. Its vector is the sum over the codebooks `m` of
    `codebooks[m, codes[word, m]]`. In the notation of the paper, `num_words`
    is V, `num_codebooks` is M, `codebook_size` is K and `output_dim` is D.

    A NumPy object, not a Keras layer: `keras_dccl.compress` returns it, the
    command line saves and reads it, and
    `keras_dccl.CodebookEmbedding.from_compressed` and the exporter turn it
    into a layer or a `.tflite` lookup. (Called `CompressedEmbedding` before
    0.2; that name stays an alias for one release.)

    `save` writes it as a single `.npz` file that loads with
    `allow_pickle=False`:

    - `"codes"`: uint8, the codes packed by
      `keras_dccl.utils.code_packing.pack_codes` (two per byte when
      `codebook_size <= 16`).
    - `"codebooks"`: float32, shape `(num_codebooks, codebook_size,
      output_dim)`.
    - `"vocabulary_bytes"`: uint8, the words in UTF-8, one after the other,
      and `"vocabulary_offsets"`: int64, shape `(num_words + 1,)`, where word
      `i` is `vocabulary_bytes[offsets[i]:offsets[i + 1]]`; both absent when
      there is no vocabulary.
    - `"metadata"`: a 0-d unicode array holding a JSON object with `format`
      (`"keras-dccl"`), `format_version` (2), the four sizes, `packed`, the
      user metadata under `extra`, and `checksum`: the SHA-256 hex digest of
      the stored codes bytes, then the little-endian codebooks bytes, then
      each word in UTF-8 followed by a NUL byte, then the metadata object
      without `checksum` as JSON with sorted keys (`json.dumps(...,
      sort_keys=True)`), in UTF-8.

    `load` reads only these members, checks each one's declared size before
    inflating it, and also reads version 1 files (vocabulary as a
    fixed-width unicode array `"vocabulary"`, checksum without the
    metadata).

    Args:
        codes: Integer array of shape `(num_words, num_codebooks)` with values
            in `[0, codebook_size)`. Stored as uint8.
        codebooks: Float array of shape `(num_codebooks, codebook_size,
            output_dim)` with finite values, `codebook_size <= 256`. Stored
            as float32.
        vocabulary: Optional list of `num_words` unique strings (without NUL
            characters): the word of each row.
        metadata: Optional JSON-serializable dict of extra information, such
            as the training recipe and metrics. Kept as its JSON round trip.

    Example:

    >>> codes = np.array([[0, 1], [1, 0]])
    >>> codebooks = np.arange(8, dtype="float32").reshape(2, 2, 2)
    >>> table = CompressedTable(codes, codebooks, ["cat", "dog"])
    >>> table.lookup("dog")
    array([6., 8.], dtype=float32)

    Reference:
    - [Shu and Nakayama, 2018](https://arxiv.org/abs/1711.01068),
      Compressing Word Embeddings via Deep Compositional Code Learning.
    """

    def __init__(self, codes, codebooks, vocabulary=None, metadata=None):
        codes = np.asarray(codes)
        codebooks = np.asarray(codebooks)
        if not np.issubdtype(codes.dtype, np.integer) or codes.ndim != 2:
            raise ValueError(
                "`codes` must be a 2-D integer array (num_words, "
                f"num_codebooks). Received: codes with dtype={codes.dtype}, "
                f"shape={codes.shape}"
            )
        if not np.issubdtype(codebooks.dtype, np.floating) or (
            codebooks.ndim != 3
        ):
            raise ValueError(
                "`codebooks` must be a 3-D float array (num_codebooks, "
                "codebook_size, output_dim). Received: codebooks with "
                f"dtype={codebooks.dtype}, shape={codebooks.shape}"
            )
        if codes.size == 0 or codebooks.size == 0:
            raise ValueError(
                "`codes` and `codebooks` must not be empty. Received: "
                f"codes.shape={codes.shape}, codebooks.shape={codebooks.shape}"
            )
        if codes.shape[1] != codebooks.shape[0]:
            raise ValueError(
                "`codes` must have one column per codebook. Received: "
                f"codes.shape={codes.shape}, codebooks.shape={codebooks.shape}"
            )
        codebook_size = codebooks.shape[1]
        if codebook_size > MAX_CODEBOOK_SIZE:
            raise ValueError(
                f"`codebooks` must hold at most {MAX_CODEBOOK_SIZE} vectors "
                "each, so that codes fit in uint8. "
                f"Received: codebook_size={codebook_size}"
            )
        if codes.min() < 0 or codes.max() >= codebook_size:
            raise ValueError(
                f"`codes` must be in [0, codebook_size={codebook_size}). "
                f"Received: codes in [{codes.min()}, {codes.max()}]"
            )
        if not np.all(np.isfinite(codebooks)):
            raise ValueError(
                "`codebooks` must hold finite values. Received: "
                f"{np.count_nonzero(~np.isfinite(codebooks))} NaN or "
                "infinite values"
            )
        self._codes = codes.astype(np.uint8)
        self._codebooks = codebooks.astype(np.float32)
        self._codes.flags.writeable = False
        self._codebooks.flags.writeable = False
        self._vocabulary = None
        self._word_index = None
        if vocabulary is not None:
            self._set_vocabulary(vocabulary)
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError(
                "`metadata` must be None or a dict. "
                f"Received: metadata={metadata!r}"
            )
        try:
            self._metadata = json.loads(json.dumps(metadata or {}))
        except (TypeError, ValueError) as error:
            raise ValueError(
                "`metadata` must be JSON-serializable. "
                f"Received: metadata={metadata!r} ({error})"
            ) from error

    def _set_vocabulary(self, vocabulary):
        if isinstance(vocabulary, str):
            raise ValueError(
                "`vocabulary` must be a list of strings, not a string. "
                f"Received: vocabulary={vocabulary!r}"
            )
        vocabulary = list(vocabulary)
        if len(vocabulary) != self.num_words:
            raise ValueError(
                f"`vocabulary` must have one word per row ({self.num_words})."
                f" Received: {len(vocabulary)} words"
            )
        for word in vocabulary:
            if not isinstance(word, str) or "\0" in word:
                raise ValueError(
                    "`vocabulary` must hold strings without NUL characters. "
                    f"Received: word={word!r}"
                )
        word_index = {}
        for index, word in enumerate(vocabulary):
            if word in word_index:
                raise ValueError(
                    "`vocabulary` must hold unique words. "
                    f"Received: word={word!r} at rows {word_index[word]} "
                    f"and {index}"
                )
            word_index[word] = index
        self._vocabulary = [str(word) for word in vocabulary]
        self._word_index = word_index

    @property
    def codes(self):
        """Read-only uint8 array of shape `(num_words, num_codebooks)`."""
        return self._codes

    @property
    def codebooks(self):
        """Read-only float32 array `(num_codebooks, codebook_size, dim)`."""
        return self._codebooks

    @property
    def vocabulary(self):
        """List of the words of the rows, or None."""
        return self._vocabulary

    @property
    def metadata(self):
        """Dict of extra information (empty when none was given)."""
        return self._metadata

    @property
    def num_words(self):
        return self._codes.shape[0]

    @property
    def num_codebooks(self):
        return self._codebooks.shape[0]

    @property
    def codebook_size(self):
        return self._codebooks.shape[1]

    @property
    def output_dim(self):
        return self._codebooks.shape[2]

    @property
    def bits_per_word(self):
        """Information content of one word's codes, in bits."""
        return self.num_codebooks * bits_per_code(self.codebook_size)

    @property
    def size_bytes(self):
        """Bytes of the embedding as stored: packed codes plus codebooks.

        The vocabulary is not counted: the uncompressed table needs it too.
        """
        code_bytes = self.num_words * packed_width(
            self.num_codebooks, self.codebook_size
        )
        return code_bytes + self._codebooks.nbytes

    @property
    def float32_bytes(self):
        """Bytes of the uncompressed float32 table."""
        return self.num_words * self.output_dim * 4

    @property
    def compression_ratio(self):
        return self.float32_bytes / self.size_bytes

    def _reconstructed_chunks(self, ids, batch_size):
        """Yields `(start, rows)`: float32 vectors of `ids[start:]`, chunked."""
        batch_size = check_integer("batch_size", batch_size)
        for start in range(0, len(ids), batch_size):
            codes = self._codes[ids[start : start + batch_size]]
            yield start, reconstruct(codes, self._codebooks)

    def reconstruct(self, ids=None, batch_size=8192):
        """Returns the float32 vectors of the rows `ids` (default: all).

        Computed `batch_size` rows at a time, so that the temporary memory
        stays at `batch_size * output_dim` floats beside the result.
        """
        if ids is None:
            ids = np.arange(self.num_words)
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer) or ids.ndim != 1:
            raise ValueError(
                "`ids` must be a 1-D integer array. "
                f"Received: ids with dtype={ids.dtype}, shape={ids.shape}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_words):
            raise ValueError(
                f"`ids` must be in [0, num_words={self.num_words}). "
                f"Received: ids in [{ids.min()}, {ids.max()}]"
            )
        vectors = np.empty((len(ids), self.output_dim), dtype=np.float32)
        for start, rows in self._reconstructed_chunks(ids, batch_size):
            vectors[start : start + len(rows)] = rows
        return vectors

    def evaluate(self, vectors, batch_size=8192):
        """Measures the reconstruction error against the original vectors.

        Args:
            vectors: Array of shape `(num_words, output_dim)`, for example a
                memory map; it is read `batch_size` rows at a time.
            batch_size: Integer. Rows per chunk.

        Returns:
            A dict with `"mean_distance"`, the mean over rows of the
            Euclidean norm of the difference, and `"mean_squared_error"`,
            the mean over all entries of the squared difference.
        """
        vectors = np.asarray(vectors)
        expected_shape = (self.num_words, self.output_dim)
        if vectors.shape != expected_shape:
            raise ValueError(
                f"`vectors` must have shape {expected_shape}. "
                f"Received: vectors.shape={vectors.shape}"
            )
        total_distance = 0.0
        total_squared_error = 0.0
        ids = np.arange(self.num_words)
        for start, rows in self._reconstructed_chunks(ids, batch_size):
            original = vectors[start : start + len(rows)]
            squared = np.square(original.astype(np.float64) - rows)
            total_distance += float(np.sqrt(squared.sum(axis=1)).sum())
            total_squared_error += float(squared.sum())
        return {
            "mean_distance": total_distance / self.num_words,
            "mean_squared_error": total_squared_error / vectors.size,
        }

    def index(self, word):
        """Returns the row of `word` in the vocabulary."""
        if self._word_index is None:
            raise ValueError(
                "This CompressedTable has no vocabulary, so words cannot "
                f"be looked up. Received: word={word!r}"
            )
        if word not in self._word_index:
            raise ValueError(
                f"`word` is not in the vocabulary. Received: word={word!r}"
            )
        return self._word_index[word]

    def lookup(self, word):
        """Returns the float32 vector of `word`, shape `(output_dim,)`."""
        return self.reconstruct([self.index(word)])[0]

    def save(self, path):
        """Writes the artifact to exactly `path` as an `.npz` file, atomically.

        The file at `path` is replaced only once the new one is complete.
        """
        codes = pack_codes(self._codes, self.codebook_size)
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "num_words": self.num_words,
            "num_codebooks": self.num_codebooks,
            "codebook_size": self.codebook_size,
            "output_dim": self.output_dim,
            "packed": self.codebook_size <= NIBBLE_CODEBOOK_SIZE,
            "extra": self._metadata,
        }
        header["checksum"] = _checksum(
            codes, self._codebooks, self._vocabulary, header
        )
        arrays = {"codes": codes, "codebooks": self._codebooks}
        if self._vocabulary is not None:
            encoded = [word.encode("utf-8") for word in self._vocabulary]
            offsets = np.zeros(len(encoded) + 1, dtype="<i8")
            np.cumsum([len(word) for word in encoded], out=offsets[1:])
            arrays["vocabulary_bytes"] = np.frombuffer(
                b"".join(encoded), dtype=np.uint8
            )
            arrays["vocabulary_offsets"] = offsets
        arrays["metadata"] = np.array(json.dumps(header))
        with atomic_path(path) as temporary:
            # A file object, because `np.savez` appends ".npz" to names.
            with open(temporary, "wb") as file:
                np.savez(file, **arrays)

    @classmethod
    def load(cls, path):
        """Reads and validates an artifact written by `save`.

        Raises:
            ArtifactError: the file is missing, unreadable, not a keras-dccl
                artifact, of an unsupported version, inconsistent or
                corrupted. The message is one line starting with the path.
        """
        path = os.fspath(path)
        try:
            with open_npz(path) as archive:
                header, arrays = _read_arrays(archive)
            codes, codebooks, vocabulary = _check_arrays(arrays, header)
            return cls(codes, codebooks, vocabulary, header["extra"])
        except ValueError as error:
            raise ArtifactError(f"{path}: {error}") from error
        except OSError as error:
            reason = error.strerror or error
            raise ArtifactError(f"{path}: cannot read the file: {reason}")

    def summary(self):
        """Returns a multi-line description for humans."""
        lines = [
            "CompressedTable",
            f"  words:             {self.num_words:,}",
            f"  dimensions:        {self.output_dim}",
            f"  codebooks (M):     {self.num_codebooks}",
            f"  codebook size (K): {self.codebook_size}",
            f"  bits per word:     {self.bits_per_word}",
            f"  size:              {self.size_bytes:,} bytes",
            f"  float32 size:      {self.float32_bytes:,} bytes",
            f"  compression ratio: {self.compression_ratio:.1f}x",
            "  vocabulary:        "
            + ("yes" if self._vocabulary is not None else "no"),
        ]
        for key, value in self._metadata.items():
            if key.endswith(_ALL_ROWS_METRICS):
                key += " (all rows)"  # Progress bars show held-out rows.
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(lines)

    def __repr__(self):
        return (
            f"CompressedTable(num_words={self.num_words}, "
            f"output_dim={self.output_dim}, "
            f"num_codebooks={self.num_codebooks}, "
            f"codebook_size={self.codebook_size}, "
            f"vocabulary={self._vocabulary is not None})"
        )


def _checksum(packed_codes, codebooks, vocabulary, header):
    """SHA-256 hex digest of the stored arrays (see `CompressedTable`).

    Version 1 files cover the arrays only; later versions also cover the
    metadata (`header` without its checksum).
    """
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(packed_codes).tobytes())
    digest.update(np.ascontiguousarray(codebooks, dtype="<f4").tobytes())
    for word in vocabulary or ():
        digest.update(word.encode("utf-8") + b"\0")
    if header["format_version"] >= 2:
        covered = {key: header[key] for key in header if key != "checksum"}
        digest.update(json.dumps(covered, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _read_arrays(archive):
    """Reads the header, then the members it defines, sizes checked first.

    Returns `(header, arrays)`; other members of the archive are not read.
    """
    names = member_names(archive)
    for key in ("codes", "codebooks", "metadata"):
        if key not in names:
            raise ValueError(f"missing array {key!r}")
    header = _read_header(
        read_member(archive, "metadata", _MAX_METADATA_BYTES)
    )
    num_words, num_codebooks, codebook_size, output_dim = (
        header[key] for key in _HEADER_SIZES
    )
    width = packed_width(num_codebooks, codebook_size)
    limits = {
        "codes": num_words * width,
        "codebooks": num_codebooks * codebook_size * output_dim * 4,
    }
    if header["format_version"] == 1:
        limits["vocabulary"] = num_words * 4 * _MAX_V1_WORD_CHARACTERS
    else:
        limits["vocabulary_offsets"] = (num_words + 1) * 8
    arrays = {
        key: read_member(archive, key, limit + _NPY_HEADER_BYTES)
        for key, limit in limits.items()
        if key in names
    }
    if "vocabulary_offsets" in arrays:
        offsets = _check_offsets(arrays["vocabulary_offsets"], num_words)
        if "vocabulary_bytes" not in names:
            raise ValueError("missing array 'vocabulary_bytes'")
        arrays["vocabulary_bytes"] = read_member(
            archive, "vocabulary_bytes", int(offsets[-1]) + _NPY_HEADER_BYTES
        )
    elif "vocabulary_bytes" in names:
        raise ValueError("missing array 'vocabulary_offsets'")
    return header, arrays


def _check_offsets(offsets, num_words):
    if offsets.dtype != np.dtype("<i8") or offsets.shape != (num_words + 1,):
        raise ValueError(
            f"vocabulary_offsets have dtype {offsets.dtype} and shape "
            f"{offsets.shape}, expected int64 and {(num_words + 1,)} from "
            "the metadata"
        )
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("vocabulary_offsets must start at 0 and not decrease")
    return offsets


def _decode_vocabulary(data, offsets):
    """The words of a version 2 vocabulary: UTF-8 bytes cut at `offsets`."""
    if data.dtype != np.uint8 or data.shape != (offsets[-1],):
        raise ValueError(
            f"vocabulary_bytes have dtype {data.dtype} and shape "
            f"{data.shape}, expected uint8 and {(int(offsets[-1]),)} from "
            "vocabulary_offsets"
        )
    data = data.tobytes()
    try:
        return [
            data[start:end].decode("utf-8")
            for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())
        ]
    except UnicodeDecodeError as error:
        raise ValueError(f"vocabulary is not valid UTF-8 ({error})") from None


def _read_header(metadata):
    """Parses and checks the JSON header stored in the `metadata` array."""
    if metadata.dtype.kind != "U" or metadata.ndim != 0:
        raise ValueError("metadata is not a 0-d unicode array")
    try:
        header = json.loads(metadata.item())
    except ValueError as error:
        raise ValueError(f"metadata is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise ValueError("metadata is not a JSON object")
    if header.get("format") != FORMAT_NAME:
        raise ValueError(
            f"not a {FORMAT_NAME} artifact (format={header.get('format')!r})"
        )
    version = header.get("format_version")
    if isinstance(version, bool) or version not in _READ_VERSIONS:
        raise ValueError(
            f"unsupported format_version={version!r}, this version of "
            f"keras-dccl reads {' and '.join(map(str, _READ_VERSIONS))}"
        )
    for key in _HEADER_SIZES:
        value = header.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"metadata {key}={value!r} is not a positive int")
    if not isinstance(header.get("packed"), bool):
        raise ValueError(f"metadata packed={header.get('packed')!r} not a bool")
    if not isinstance(header.get("checksum"), str):
        raise ValueError("metadata has no checksum")
    if not isinstance(header.get("extra"), dict):
        raise ValueError("metadata extra is not a JSON object")
    return header


def _check_arrays(arrays, header):
    """Checks the stored arrays against the header and the checksum.

    Returns the unpacked codes, the codebooks and the vocabulary (or None).
    The value ranges are left to the `CompressedTable` constructor.
    """
    num_words, num_codebooks, codebook_size, output_dim = (
        header[key] for key in _HEADER_SIZES
    )
    codes = arrays["codes"]
    codebooks = arrays["codebooks"]
    width = packed_width(num_codebooks, codebook_size)
    if codes.dtype != np.uint8 or codes.shape != (num_words, width):
        raise ValueError(
            f"codes have dtype {codes.dtype} and shape {codes.shape}, "
            f"expected uint8 and {(num_words, width)} from the metadata"
        )
    expected_shape = (num_codebooks, codebook_size, output_dim)
    if codebooks.dtype != np.float32 or codebooks.shape != expected_shape:
        raise ValueError(
            f"codebooks have dtype {codebooks.dtype} and shape "
            f"{codebooks.shape}, expected float32 and {expected_shape} from "
            "the metadata"
        )
    if header["packed"] != (codebook_size <= NIBBLE_CODEBOOK_SIZE):
        raise ValueError(
            f"metadata packed={header['packed']} contradicts "
            f"codebook_size={codebook_size}"
        )
    vocabulary = arrays.get("vocabulary")
    if vocabulary is not None:
        if vocabulary.dtype.kind != "U" or vocabulary.shape != (num_words,):
            raise ValueError(
                f"vocabulary has dtype {vocabulary.dtype} and shape "
                f"{vocabulary.shape}, expected unicode and {(num_words,)} "
                "from the metadata"
            )
        vocabulary = vocabulary.tolist()
    if "vocabulary_offsets" in arrays:
        vocabulary = _decode_vocabulary(
            arrays["vocabulary_bytes"], arrays["vocabulary_offsets"]
        )
    if _checksum(codes, codebooks, vocabulary, header) != header["checksum"]:
        raise ValueError("checksum mismatch, the file is corrupted")
    codes = unpack_codes(codes, num_codebooks, codebook_size)
    return codes, codebooks, vocabulary
