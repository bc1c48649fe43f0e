import collections
import os
import unicodedata

import numpy as np

from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.atomic_file import write_text_atomic

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
PAD_ID = 0
UNK_ID = 1

# Code point ranges that BERT's basic tokenizer splits into single characters.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))


def _in_ranges(code_point, ranges):
    return any(low <= code_point <= high for low, high in ranges)


def split_words(text):
    """Splits a string into the tokens of the word-level vocabulary.

    The rules are those of BERT's uncased basic tokenizer, which
    tensorflow-text's `FastBertNormalizer(lower_case_nfd_strip_accents=True)`
    followed by `FastWordpieceTokenizer` pre-tokenization runs inside a TFLite
    graph, so that a raw-text model splits exactly as this function does:

    1. NFKD-normalize, case-fold, NFKD-normalize again.
    2. Drop combining marks (category Mn) and format characters (Cf).
    3. Whitespace, control characters (Cc) and separators (Z*) end a word.
    4. Every punctuation character (category P*, or an ASCII symbol such as
       `$`, `+`, `<`, `^`, `` ` ``, `|`) and every CJK ideograph is a token of
       its own.
    5. Any other run of characters is a word.

    So `"Don't stop"` becomes `["don", "'", "t", "stop"]` and `"Café…"`
    becomes `["cafe", ".", ".", "."]`. `examples/web/` and
    `examples/android/` port these rules; `tests/data/tokenizer_vectors.json`
    holds the cases that all ports are tested against.

    Args:
        text: A string.

    Returns:
        A list of strings.
    """
    text = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", text).casefold()
    )
    tokens = []
    word = []
    for character in text:
        category = unicodedata.category(character)
        if category in ("Mn", "Cf"):
            continue
        if character.isspace() or category == "Cc" or category[0] == "Z":
            boundary = None
        elif category[0] == "P" or _in_ranges(
            ord(character), _ASCII_PUNCTUATION_RANGES + _CJK_RANGES
        ):
            boundary = character
        else:
            word.append(character)
            continue
        if word:
            tokens.append("".join(word))
            word = []
        if boundary:
            tokens.append(boundary)
    if word:
        tokens.append("".join(word))
    return tokens


class WordTokenizer:
    """Turns strings into fixed-length id sequences over a word vocabulary.

    Words are split by `split_words`. Id 0 (`"[PAD]"`) pads, id 1 (`"[UNK]"`)
    stands for any word outside the vocabulary, and the other ids are the
    vocabulary's words in file order. Sequences longer than
    `sequence_length` are cut at the end.

    The vocabulary file is UTF-8, one token per line, `"[PAD]"` on line 1
    and `"[UNK]"` on line 2: the line number minus one is the id. This is the
    file that the browser and Android demos read beside the `.tflite` model.

    Args:
        vocabulary: A list of tokens starting with `"[PAD]"`, `"[UNK]"`, or
            the path of a vocabulary file.
        sequence_length: Integer, the length of every id sequence.

    Example:

    >>> tokenizer = WordTokenizer(["[PAD]", "[UNK]", "a", "fine", "film"], 6)
    >>> tokenizer(["A fine, FINE film."])
    array([[2, 3, 1, 3, 4, 1]], dtype=int32)
    """

    def __init__(self, vocabulary, sequence_length=64):
        check_integer("sequence_length", sequence_length, minimum=1)
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary(vocabulary)
        vocabulary = list(vocabulary)
        _check_vocabulary(vocabulary)
        self.vocabulary = vocabulary
        self.sequence_length = sequence_length
        self._ids = {token: index for index, token in enumerate(vocabulary)}

    @classmethod
    def from_texts(cls, texts, sequence_length=64, max_words=None, words=None):
        """Builds a vocabulary from the words of `texts`, most frequent first.

        Args:
            texts: Iterable of strings, usually the training split.
            sequence_length: Integer, the length of every id sequence.
            max_words: Optional integer: keep only this many words.
            words: Optional collection of strings (for example the words of a
                pretrained table): keep only the words found in it.
        """
        counts = collections.Counter(
            token for text in texts for token in split_words(text)
        )
        allowed = None if words is None else set(words)
        ranked = sorted(
            (token for token in counts if allowed is None or token in allowed),
            key=lambda token: (-counts[token], token),
        )
        if max_words is not None:
            check_integer("max_words", max_words, minimum=1)
            ranked = ranked[:max_words]
        return cls([PAD_TOKEN, UNK_TOKEN] + ranked, sequence_length)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def tokenize(self, text):
        """Ids of the words of one string, without padding or cutting."""
        return [self._ids.get(token, UNK_ID) for token in split_words(text)]

    def __call__(self, texts):
        """Returns an int32 array `(len(texts), sequence_length)` of ids."""
        if isinstance(texts, str):
            raise TypeError(
                "WordTokenizer takes a list of strings, not one string. "
                f"Received: {texts[:40]!r}"
            )
        texts = list(texts)
        ids = np.full((len(texts), self.sequence_length), PAD_ID, np.int32)
        for row, text in enumerate(texts):
            tokens = self.tokenize(text)[: self.sequence_length]
            ids[row, : len(tokens)] = tokens
        return ids

    def save_vocabulary(self, path):
        """Writes the vocabulary file (atomically)."""
        write_text_atomic(path, "".join(f"{t}\n" for t in self.vocabulary))


def read_vocabulary(path):
    """Reads a vocabulary file; a bad file raises `ValueError` naming it."""
    path = os.fspath(path)
    with open(path, encoding="utf-8") as file:
        text = file.read()
    if not text.endswith("\n"):
        raise ValueError(f"{path}: the last line has no newline")
    vocabulary = text[:-1].split("\n")
    _check_vocabulary(vocabulary, path)
    return vocabulary


def _check_vocabulary(vocabulary, path=None):
    def where(line):
        return f"{path}:{line}" if path else f"vocabulary entry {line}"

    if vocabulary[:2] != [PAD_TOKEN, UNK_TOKEN]:
        raise ValueError(
            f"{path or 'vocabulary'}: must start with {PAD_TOKEN!r} and "
            f"{UNK_TOKEN!r}. Received: {vocabulary[:2]!r}"
        )
    seen = {}
    for index, token in enumerate(vocabulary):
        line = index + 1
        if not isinstance(token, str) or not token:
            raise ValueError(f"{where(line)}: empty or not a string")
        if index >= 2 and split_words(token) != [token]:
            raise ValueError(
                f"{where(line)}: {token!r} is not a single token of "
                "split_words() and could never be looked up"
            )
        if token in seen:
            raise ValueError(
                f"{where(line)}: {token!r} repeats line {seen[token]}"
            )
        seen[token] = line
