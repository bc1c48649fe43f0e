import json
import os

import numpy as np
import pytest

from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.text.word_tokenizer import read_vocabulary
from keras_dccl.text.word_tokenizer import split_words

VECTORS = os.path.join(
    os.path.dirname(__file__), "data", "tokenizer_vectors.json"
)


def load_vectors():
    with open(VECTORS, encoding="utf-8") as file:
        return json.load(file)


@pytest.mark.parametrize(
    "case", load_vectors()["cases"], ids=lambda case: repr(case["text"])[:30]
)
def test_shared_vectors(case):
    vectors = load_vectors()
    tokenizer = WordTokenizer(vectors["vocabulary"], vectors["sequence_length"])
    assert split_words(case["text"]) == case["tokens"]
    assert tokenizer([case["text"]])[0].tolist() == case["ids"]


def test_rules():
    assert split_words("Don't STOP!") == ["don", "'", "t", "stop", "!"]
    assert split_words("Café…straße") == ["cafe", ".", ".", ".", "strasse"]
    assert split_words("中文 a\u200bb\u00a0c") == ["中", "文", "ab", "c"]
    assert split_words(" \t\n") == []


def test_padding_cutting_and_unknown_words():
    tokenizer = WordTokenizer(["[PAD]", "[UNK]", "good", "film"], 4)
    ids = tokenizer(["good film", "good unknown film good film", ""])
    np.testing.assert_array_equal(
        ids, [[2, 3, 0, 0], [2, 1, 3, 2], [0, 0, 0, 0]]
    )
    assert ids.dtype == np.int32
    with pytest.raises(TypeError, match="list of strings"):
        tokenizer("good film")


def test_from_texts_orders_by_frequency_and_filters():
    texts = ["b a b", "c b a", "d"]
    tokenizer = WordTokenizer.from_texts(texts, 8)
    assert tokenizer.vocabulary == ["[PAD]", "[UNK]", "b", "a", "c", "d"]
    tokenizer = WordTokenizer.from_texts(
        texts, 8, max_words=2, words={"a", "c"}
    )
    assert tokenizer.vocabulary == ["[PAD]", "[UNK]", "a", "c"]


def test_vocabulary_file_round_trip(tmp_path):
    tokenizer = WordTokenizer(["[PAD]", "[UNK]", "ωmega", "中", "'"], 3)
    path = tmp_path / "vocabulary.txt"
    tokenizer.save_vocabulary(path)
    assert path.read_text(encoding="utf-8") == "[PAD]\n[UNK]\nωmega\n中\n'\n"
    assert read_vocabulary(path) == tokenizer.vocabulary
    assert WordTokenizer(path, 3).vocabulary == tokenizer.vocabulary


@pytest.mark.parametrize(
    "content, message",
    [
        ("[UNK]\n[PAD]\na\n", "must start with"),
        ("[PAD]\n[UNK]\na\nb\na\n", r"vocabulary.txt:5: 'a' repeats line 3"),
        ("[PAD]\n[UNK]\n\n", r"vocabulary.txt:3: empty"),
        ("[PAD]\n[UNK]\nTwo words\n", r"vocabulary.txt:3: .* not a single"),
        ("[PAD]\n[UNK]\na", "last line has no newline"),
    ],
)
def test_bad_vocabulary_file_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "vocabulary.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        WordTokenizer(path)


def test_bad_sequence_length():
    with pytest.raises(ValueError, match="sequence_length"):
        WordTokenizer(["[PAD]", "[UNK]"], 0)


def test_split_words_equals_tensorflow_text_in_graph_splitting():
    # What a raw-text .tflite runs: FastBertNormalizer, then the end-to-end
    # FastWordpieceTokenizer over a vocabulary of whole words. Here the
    # vocabulary holds every Python token, so tensorflow-text returns its own
    # tokens and any difference in splitting shows up as a different word.
    import tensorflow as tf
    import tensorflow_text as tf_text

    from keras_dccl.readers.rotten_tomatoes import load_rotten_tomatoes

    sentences, _ = load_rotten_tomatoes()
    texts = sentences + [case["text"] for case in load_vectors()["cases"]]
    expected = [split_words(text) for text in texts]
    words = sorted({token for tokens in expected for token in tokens})
    normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=True)
    wordpiece = tf_text.FastWordpieceTokenizer(
        vocab=["[UNK]", *words],
        max_bytes_per_word=max(len(word.encode()) for word in words),
        token_out_type=tf.string,
        unknown_token="[UNK]",
        no_pretokenization=False,
        support_detokenization=False,
    )
    tokens = wordpiece.tokenize(normalizer.normalize(tf.constant(texts)))
    got = [[token.decode() for token in row] for row in tokens.to_list()]
    mismatches = [
        (text, want, have)
        for text, want, have in zip(texts, expected, got)
        if want != have
    ]
    assert not mismatches, mismatches[:3]
    assert len(texts) > 12800
