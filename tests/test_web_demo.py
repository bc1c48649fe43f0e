"""The browser demo (examples/web) against the Python side.

The JavaScript tokenizer must split text as `split_words` does, and the page,
run by LiteRT.js in headless Chromium, must show the probabilities that the
Python LiteRT interpreter computes for the same sentences. Needs node, the
demo's npm packages and Debian's Chromium: tests/install-requirements.sh
installs them. A missing one fails the test; it is never skipped.
"""

import contextlib
import functools
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import unicodedata

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from keras_dccl.export import TFLiteFile
from keras_dccl.readers.rotten_tomatoes import load_rotten_tomatoes
from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.text.word_tokenizer import split_words

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
WEB = REPOSITORY / "examples" / "web"
VECTORS = REPOSITORY / "tests" / "data" / "tokenizer_vectors.json"
SCREENSHOT = REPOSITORY / "build" / "test-artifacts" / "web-demo.png"
CHROMIUM = "/usr/bin/chromium"
NPM_PACKAGES = ("@litertjs/core", "@litertjs/wasm-utils", "playwright-core")
SEQUENCE_LENGTH = 64  # tests/demo_model.py
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTALL = "run tests/install-requirements.sh"


def node():
    path = shutil.which("node")
    if path is None:
        pytest.fail(f"node is not installed: {INSTALL} (needs Node.js 20+)")
    for package in NPM_PACKAGES:
        if not (WEB / "node_modules" / package / "package.json").is_file():
            pytest.fail(
                f"{WEB / 'node_modules' / package} is missing: {INSTALL} "
                "(or `npm ci` in examples/web)"
            )
    return path


def run_node(*args, timeout):
    return subprocess.run(
        [node(), *map(str, args)],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def load_vectors():
    with open(VECTORS, encoding="utf-8") as file:
        return json.load(file)


def code_point_cases():
    """`[text, category, tokens]` around each assigned code point.

    All of planes 0 and 1 (private use and surrogates aside), plus every
    61st CJK ideograph of the planes above, which the rules treat alike.
    """
    cases = []
    for code_point in range(0x110000):
        character = chr(code_point)
        category = unicodedata.category(character)
        if category in ("Cn", "Co", "Cs"):
            continue
        if code_point >= 0x20000 and category == "Lo" and code_point % 61:
            continue
        text = f"A{character}b {character}"
        cases.append([text, category, split_words(text)])
    return cases


def test_javascript_tokenizer_matches_python(tmp_path):
    code_points = tmp_path / "code_points.json"
    code_points.write_text(
        json.dumps(code_point_cases(), ensure_ascii=False), encoding="utf-8"
    )
    result = run_node(
        "test/tokenizer.test.mjs", VECTORS, code_points, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    num_cases = len(load_vectors()["cases"])
    assert result.stdout.startswith(f"ok: {num_cases} shared"), result.stdout


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """Serves `directory` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def interpreter_probabilities(tflite_path, ids):
    runner = Interpreter(str(tflite_path)).get_signature_runner(
        "serving_default"
    )
    return np.array(
        [runner(ids=row[np.newaxis])["output_0"][0, 0] for row in ids],
        np.float32,
    )


def review_sentences():
    """Rotten Tomatoes reviews the demo model was not trained on."""
    sentences, _ = load_rotten_tomatoes()
    held_out = sentences[3000:3008]
    # Longer than the sequence length: the page must cut it as Python does.
    long_review = " ".join(held_out[:5])
    assert len(split_words(long_review)) > SEQUENCE_LENGTH
    return held_out + [long_review]


def textarea_value(text):
    """What a textarea holds after its value is set to `text`."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_page_matches_python_interpreter(demo_model, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: {INSTALL} "
            "(apt-get install chromium)"
        )
    node()
    tflite_path, vocabulary_path = demo_model
    # The codebooks' one-time DEQUANTIZE runs in LiteRT.js too.
    assert "DEQUANTIZE" in TFLiteFile(tflite_path).op_names
    site = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            WEB / "build.py",
            "--model",
            tflite_path,
            "--vocabulary",
            vocabulary_path,
            "--out",
            site,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr

    vectors = load_vectors()
    vector_texts = [case["text"] for case in vectors["cases"]]
    reviews = review_sentences()
    sentences = reviews + vector_texts
    typed = "What a wonderful, moving film!"
    if SCREENSHOT.exists():
        SCREENSHOT.unlink()
    with serve(site) as url:
        request = tmp_path / "request.json"
        request.write_text(
            json.dumps(
                {
                    "url": url,
                    "sentences": sentences,
                    "typed": typed,
                    "tokenizerTexts": vector_texts,
                    "screenshot": str(SCREENSHOT),
                    "screenshotText": typed,
                    "chromium": CHROMIUM,
                }
            ),
            encoding="utf-8",
        )
        result = run_node("test/drive_page.mjs", request, timeout=120)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"drive_page.mjs failed:\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, report.get("error") or result.stderr

    # The page loaded everything from the local server, without errors.
    assert report["status"]["state"] == "ready", report["status"]
    assert report["requests"] and all(
        request_url.startswith(url) for request_url in report["requests"]
    ), report["requests"]
    assert report["pageErrors"] == []
    assert not [
        message
        for message in report["consoleErrors"]
        if "Failed to load" in message or message.startswith("Error")
    ], report["consoleErrors"]

    # It shows the model's size.
    size = os.path.getsize(tflite_path)
    assert report["modelSize"]["bytes"] == str(size)
    assert f"{size:,} bytes" in report["modelSize"]["text"]

    # Its tokenizer splits as Python's does.
    assert report["tokenizerTokens"] == [
        case["tokens"] for case in vectors["cases"]
    ]

    # Same ids and probabilities as the Python interpreter.
    texts = [typed] + sentences
    shown = [report["typed"]] + report["results"]
    assert [item["text"] for item in shown] == list(map(textarea_value, texts))
    tokenizer = WordTokenizer(vocabulary_path, SEQUENCE_LENGTH)
    ids = tokenizer(texts)
    np.testing.assert_array_equal([item["ids"] for item in shown], ids)
    expected = interpreter_probabilities(tflite_path, ids)
    probabilities = np.array([float(item["probability"]) for item in shown])
    # Texts without a word ("", "   ") give NaN (a masked mean of nothing)
    # on both sides; assert_allclose counts NaN == NaN.
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)
    assert np.isfinite(expected[: 1 + len(reviews)]).all()
    assert np.unique(expected).size > 10  # The model is not constant.
    labels = np.where(expected >= 0.5, "positive", "negative")
    labels[np.isnan(expected)] = "none"
    assert [item["label"] for item in shown] == labels.tolist()

    with open(SCREENSHOT, "rb") as file:
        assert file.read(8) == PNG_SIGNATURE
