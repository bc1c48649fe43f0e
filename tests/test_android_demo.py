"""Checks of `examples/android`, the Android demo app.

The app cannot be built here (no Android Gradle plugin, no Android SDK). What
is checked is everything it relies on that runs on a plain JVM or in Python:

- Its text processing, `SentimentText.kt` (plain Kotlin, no Android imports),
  compiled with `kotlinc` together with `tokenizer-test/TokenizerTestMain.kt`
  and run on the JDK: the shared tokenizer vectors, every code point against
  `split_words`, the exported vocabulary and real sentences against
  `WordTokenizer`, and the reading of the model's output.
- The model contract: the exported `.tflite` signature, tensor names, dtypes
  and shapes, and the vocabulary file, against the constants that the Kotlin
  source declares.
"""

import json
import math
import pathlib
import re
import shutil
import subprocess
import time
import unicodedata

import numpy as np
import pytest

from keras_dccl.text import word_tokenizer
from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.text.word_tokenizer import read_vocabulary
from keras_dccl.text.word_tokenizer import split_words

ANDROID = pathlib.Path(__file__).parent.parent / "examples" / "android"
APP_SOURCES = ANDROID / "app" / "src" / "main" / "java"
PACKAGE = "com.example.kerasdccl.sentiment"
SENTIMENT_TEXT = APP_SOURCES.joinpath(*PACKAGE.split("."), "SentimentText.kt")
TEST_MAIN = ANDROID / "tokenizer-test" / "TokenizerTestMain.kt"
VECTORS = pathlib.Path(__file__).parent / "data" / "tokenizer_vectors.json"

CONSTANT = re.compile(
    r'^const val (\w+) = ("[^"\\$]*"|\d+)$', flags=re.MULTILINE
)
KOTLIN_WARNING = re.compile(r"^\S+\.kt:\d+:\d+: warning: .*$", re.MULTILINE)


def kotlin_constants():
    """The top-level `const val`s of `SentimentText.kt`, as Python values."""
    source = SENTIMENT_TEXT.read_text(encoding="utf-8")
    return {
        name: value.strip('"') if value.startswith('"') else int(value)
        for name, value in CONSTANT.findall(source)
    }


@pytest.fixture(scope="module")
def kotlin_main(tmp_path_factory):
    """A function running the compiled `TokenizerTestMain.kt` with args."""
    kotlinc = shutil.which("kotlinc")
    java = shutil.which("java")
    if kotlinc is None or java is None:
        pytest.fail(
            "kotlinc and java are needed to check the Android demo's "
            f"tokenizer (found kotlinc={kotlinc}, java={java}). Install "
            "them with tests/install-requirements.sh (Debian: apt-get "
            "install kotlin)."
        )
    jar = tmp_path_factory.mktemp("kotlin") / "tokenizer-test.jar"
    start = time.monotonic()
    command = [kotlinc, SENTIMENT_TEXT, TEST_MAIN, "-include-runtime"]
    compiled = subprocess.run(
        [*map(str, command), "-d", str(jar)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - start
    if compiled.returncode != 0 or not jar.exists():
        pytest.fail(
            f"kotlinc could not compile {SENTIMENT_TEXT.name} and "
            f"{TEST_MAIN.name} (exit {compiled.returncode}):\n"
            f"{compiled.stderr}"
        )
    warnings = KOTLIN_WARNING.findall(compiled.stderr)
    if warnings:
        pytest.fail("kotlinc warnings:\n" + "\n".join(warnings))
    print(f"kotlinc compiled the Android demo's tokenizer in {seconds:.1f} s")

    def run(*args, check=True):
        result = subprocess.run(
            [java, "-cp", str(jar), f"{PACKAGE}.TokenizerTestMainKt"]
            + [str(arg) for arg in args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )
        if check and result.returncode != 0:
            pytest.fail(f"TokenizerTestMain {args[0]} failed:\n{result.stderr}")
        return result

    return run


def write_texts(path, texts):
    """Writes `texts` as `TokenizerTestMain` reads them; returns `path`."""
    path.write_text(
        "".join(json.dumps(text) + "\n" for text in texts), encoding="ascii"
    )
    return path


def kotlin_tokenize(kotlin_main, tmp_path, vocabulary_path, length, texts):
    """`[(tokens, ids)]` of the Kotlin `splitWords` and `encode`."""
    texts_path = write_texts(tmp_path / "texts.jsonl", texts)
    result = kotlin_main("tokenize", vocabulary_path, length, texts_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(texts)
    return [(line["tokens"], line["ids"]) for line in lines]


def test_kotlin_tokenizer_matches_shared_vectors(kotlin_main, tmp_path):
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    vocabulary_path = tmp_path / "vocabulary.txt"
    WordTokenizer(
        vectors["vocabulary"], vectors["sequence_length"]
    ).save_vocabulary(vocabulary_path)
    cases = vectors["cases"]
    results = kotlin_tokenize(
        kotlin_main,
        tmp_path,
        vocabulary_path,
        vectors["sequence_length"],
        [case["text"] for case in cases],
    )
    for case, (tokens, ids) in zip(cases, results):
        assert (tokens, ids) == (case["tokens"], case["ids"]), case["text"]


def test_kotlin_tokenizer_matches_python_on_every_code_point(kotlin_main):
    # Each code point the JVM's Unicode tables assign, as a one-character
    # text. Where the JVM and Python's unicodedata use different Unicode
    # versions, code points whose category differs are left out.
    lines = kotlin_main("sweep").stdout.splitlines()
    compared = 0
    mismatches = []
    for line in lines:
        hex_code_point, category, tokens = line.split("\t")
        character = chr(int(hex_code_point, 16))
        if unicodedata.category(character) != category:
            continue
        compared += 1
        expected = split_words(character)
        if json.loads(tokens) != expected:
            mismatches.append((hex_code_point, tokens, expected))
    assert compared > 100_000, f"only {compared} code points compared"
    assert not mismatches, mismatches[:20]


def test_kotlin_rejects_bad_vocabulary_files(kotlin_main, tmp_path):
    bad_files = [
        (b"[UNK]\n[PAD]\na\n", "must start with"),
        (b"[PAD]\n[UNK]\na\nb\na\n", 'vocabulary.txt:5: "a" repeats line 3'),
        (b"[PAD]\n[UNK]\n\n", "vocabulary.txt:3: empty line"),
        (b"[PAD]\n[UNK]\na", "the last line has no newline"),
        (b"[PAD]\n[UNK]\n\xff\n", "not UTF-8"),
    ]
    texts_path = write_texts(tmp_path / "texts.jsonl", ["a"])
    for content, message in bad_files:
        vocabulary_path = tmp_path / "vocabulary.txt"
        vocabulary_path.write_bytes(content)
        result = kotlin_main(
            "tokenize", vocabulary_path, 8, texts_path, check=False
        )
        assert result.returncode == 1, content
        assert message in result.stderr, (content, result.stderr)


def test_kotlin_reads_model_outputs(kotlin_main, tmp_path):
    outputs = {
        "0.0": ("negative", 1.0, "negative (100.0%)"),
        "0.2": (
            "negative",
            np.float32(1) - np.float32(0.2),
            "negative (80.0%)",
        ),
        "0.5": ("positive", 0.5, "positive (50.0%)"),
        "0.8734": ("positive", 0.8734, "positive (87.3%)"),
        "1.0": ("positive", 1.0, "positive (100.0%)"),
        "": ("error", None, "must hold one probability. Received 0"),
        "0.1,0.9": ("error", None, "must hold one probability. Received 2"),
        "NaN": ("error", None, "must be a probability in [0, 1]"),
        "1.5": ("error", None, "must be a probability in [0, 1]"),
        "-0.25": ("error", None, "must be a probability in [0, 1]"),
    }
    outputs_path = tmp_path / "outputs.txt"
    outputs_path.write_text("".join(f"{line}\n" for line in outputs))
    results = kotlin_main("predict", outputs_path).stdout.splitlines()
    assert len(results) == len(outputs)
    for (line, expected), result in zip(outputs.items(), results):
        label, *rest = result.split("\t")
        expected_label, probability, text = expected
        assert label == expected_label, line
        if label == "error":
            assert text in rest[0], line
        else:
            assert np.float32(rest[0]) == np.float32(probability), line
            assert rest[1] == text, line


def test_kotlin_classifies_with_exported_demo(
    demo_model, kotlin_main, tmp_path
):
    # The app's whole path but the LiteRT Android calls: the exported
    # vocabulary read by Kotlin, its ids for real sentences run by the
    # Python interpreter, the output read by Kotlin's classifyText.
    from ai_edge_litert.interpreter import Interpreter

    from keras_dccl.readers.rotten_tomatoes import load_rotten_tomatoes

    tflite_path, vocabulary_path = demo_model
    constants = kotlin_constants()
    length = constants["SEQUENCE_LENGTH"]
    sentences, _ = load_rotten_tomatoes()
    # Held-out sentences (the demo trains on the first 3000), one long
    # enough to be cut, and texts with no words at all.
    texts = sentences[3000:3200] + [" ".join(sentences[:40])]
    texts += ["", " \t ", "\u200b\u0301"]
    results = kotlin_tokenize(
        kotlin_main, tmp_path, vocabulary_path, length, texts
    )
    kotlin_ids = np.array([ids for _, ids in results], np.int32)
    np.testing.assert_array_equal(
        kotlin_ids, WordTokenizer(vocabulary_path, length)(texts)
    )
    assert (kotlin_ids[-4] != 0).all()
    assert not kotlin_ids[-3:].any()

    runner = Interpreter(model_path=tflite_path).get_signature_runner(
        constants["SIGNATURE_KEY"]
    )
    probabilities = [
        runner(**{constants["INPUT_NAME"]: ids[None]})[
            constants["OUTPUT_NAME"]
        ][0, 0]
        for ids in kotlin_ids
    ]
    outputs_path = tmp_path / "outputs.txt"
    outputs_path.write_text(
        "".join(
            "NaN\n" if math.isnan(p) else f"{float(p)!r}\n"
            for p in probabilities
        )
    )
    texts_path = write_texts(tmp_path / "texts.jsonl", texts)
    results = kotlin_main(
        "classify", vocabulary_path, length, texts_path, outputs_path
    ).stdout.splitlines()
    labels = [result.split("\t")[0] for result in results]
    expected = [
        "positive" if p >= 0.5 else "negative" for p in probabilities[:-3]
    ]
    assert labels == expected + ["none"] * 3
    assert set(expected) == {"positive", "negative"}


def test_model_contract_matches_kotlin_constants(demo_model):
    from ai_edge_litert.interpreter import Interpreter

    tflite_path, vocabulary_path = demo_model
    constants = kotlin_constants()
    expected_names = {
        "MODEL_ASSET",
        "VOCABULARY_ASSET",
        "SIGNATURE_KEY",
        "INPUT_NAME",
        "OUTPUT_NAME",
        "SEQUENCE_LENGTH",
        "PAD_TOKEN",
        "UNK_TOKEN",
        "PAD_ID",
        "UNK_ID",
    }
    assert expected_names <= set(constants), "constants not found by regex"

    # File names: the app opens these assets.
    assert constants["MODEL_ASSET"] == pathlib.Path(tflite_path).name
    assert constants["VOCABULARY_ASSET"] == pathlib.Path(vocabulary_path).name

    # Signature, tensor names, dtypes and static shapes.
    interpreter = Interpreter(model_path=tflite_path)
    signatures = interpreter.get_signature_list()
    assert list(signatures) == [constants["SIGNATURE_KEY"]]
    signature = signatures[constants["SIGNATURE_KEY"]]
    assert signature == {
        "inputs": [constants["INPUT_NAME"]],
        "outputs": [constants["OUTPUT_NAME"]],
    }
    runner = interpreter.get_signature_runner(constants["SIGNATURE_KEY"])
    (input_detail,) = runner.get_input_details().values()
    (output_detail,) = runner.get_output_details().values()
    length = constants["SEQUENCE_LENGTH"]
    assert input_detail["dtype"] == np.int32
    assert input_detail["shape"].tolist() == [1, length]
    assert input_detail["shape_signature"].tolist() == [1, length]
    assert input_detail["quantization"] == (0.0, 0)
    assert output_detail["dtype"] == np.float32
    assert output_detail["shape"].tolist() == [1, 1]
    assert output_detail["shape_signature"].tolist() == [1, 1]
    assert output_detail["quantization"] == (0.0, 0)

    # The vocabulary file: strict UTF-8, no BOM, "\n" line ends, a newline
    # after the last line, [PAD] and [UNK] first (read_vocabulary checks
    # the rest: no empty or repeated line, each line one token).
    content = pathlib.Path(vocabulary_path).read_bytes()
    text = content.decode("utf-8")
    assert not text.startswith("\ufeff") and "\r" not in text
    assert text.endswith("\n")
    vocabulary = read_vocabulary(vocabulary_path)
    assert vocabulary[:2] == [constants["PAD_TOKEN"], constants["UNK_TOKEN"]]
    assert constants["PAD_TOKEN"] == word_tokenizer.PAD_TOKEN
    assert constants["UNK_TOKEN"] == word_tokenizer.UNK_TOKEN
    assert constants["PAD_ID"] == word_tokenizer.PAD_ID
    assert constants["UNK_ID"] == word_tokenizer.UNK_ID

    # Every id the app can produce is a valid row of the model's table, and
    # one word is enough for a probability (the app does not run the model
    # on a text with no word).
    for ids in ([2] + [0] * (length - 1), [len(vocabulary) - 1] * length):
        output = runner(**{constants["INPUT_NAME"]: np.array([ids], np.int32)})
        probability = float(output[constants["OUTPUT_NAME"]][0, 0])
        assert 0.0 <= probability <= 1.0, ids


def test_model_contract_is_declared_once_in_kotlin():
    # The other Kotlin files use the constants of SentimentText.kt instead
    # of repeating their values, so the test above covers the whole app.
    constants = kotlin_constants()
    literals = ["MODEL_ASSET", "VOCABULARY_ASSET", "SIGNATURE_KEY"]
    literals += ["INPUT_NAME", "OUTPUT_NAME"]
    sources = [
        path for path in APP_SOURCES.rglob("*.kt") if path != SENTIMENT_TEXT
    ]
    assert sources, "no other Kotlin sources found"
    source = "".join(path.read_text(encoding="utf-8") for path in sources)
    for name in literals:
        assert f'"{constants[name]}"' not in source, name
    for name in literals + ["SEQUENCE_LENGTH"]:
        assert re.search(rf"\b{name}\b", source), f"{name} is not used"
