// The page: loads sentiment.tflite and vocabulary.txt (both served beside
// it), runs the model with LiteRT.js on what the user types, and shows the
// probability that the review is positive.
//
// The model contract (examples/sentiment.py exports it): one input, int32
// ids of shape [1, sequence length]; one output, float32 [1, 1], the
// probability that the sentence is positive.
//
// For tests, the result element carries the exact numbers in data attributes:
// data-text (the text classified), data-ids (comma-separated), and
// data-probability (the float32 output, printed with full precision).

import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";
import { parseVocabulary, splitWords, WordTokenizer } from "./tokenizer.js";

const MODEL_URL = "sentiment.tflite";
const VOCABULARY_URL = "vocabulary.txt";
// LiteRT.js's WebAssembly files, served from this site (build.py copies them).
const WASM_DIRECTORY = new URL("wasm/", document.baseURI).href;
const SIGNATURE = "serving_default";

const elements = Object.fromEntries(
  [
    "text",
    "result",
    "label",
    "bar-positive",
    "positive",
    "negative",
    "tokens",
    "model-size",
    "vocabulary-size",
    "sequence-length",
    "runtime",
    "status",
  ].map((id) => [id, document.getElementById(id)]),
);

const integer = new Intl.NumberFormat("en-US");
const percent = new Intl.NumberFormat("en-US", {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

function setStatus(state, message) {
  elements.status.dataset.state = state;
  elements.status.textContent = message;
}

async function fetchOrThrow(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`could not load ${url}: HTTP ${response.status}`);
  }
  return response;
}

function describe(details) {
  return `${details.name} ${details.dtype} [${Array.from(details.shape)}]`;
}

// Returns the sequence length, or throws if the model does not fit the page.
function checkContract(runner) {
  const inputs = runner.getInputDetails();
  const outputs = runner.getOutputDetails();
  const [input] = inputs;
  const [output] = outputs;
  if (
    inputs.length !== 1 ||
    input.dtype !== "int32" ||
    input.shape.length !== 2 ||
    input.shape[0] !== 1 ||
    !(input.shape[1] > 0)
  ) {
    throw new Error(
      "the model must take one int32 input of shape [1, sequence length]. " +
        `Received: ${inputs.map(describe).join(", ")}`,
    );
  }
  if (
    outputs.length !== 1 ||
    output.dtype !== "float32" ||
    output.shape.reduce((size, dimension) => size * dimension, 1) !== 1
  ) {
    throw new Error(
      "the model must return one float32 probability of shape [1, 1]. " +
        `Received: ${outputs.map(describe).join(", ")}`,
    );
  }
  return input.shape[1];
}

async function loadDemo() {
  const [modelBytes, vocabularyText] = await Promise.all([
    fetchOrThrow(MODEL_URL).then((r) => r.arrayBuffer()),
    fetchOrThrow(VOCABULARY_URL).then((r) => r.text()),
  ]);
  const modelSize = modelBytes.byteLength;
  await loadLiteRt(WASM_DIRECTORY);
  const model = await loadAndCompile(new Uint8Array(modelBytes), {
    accelerator: "wasm",
  });
  const runner = model.signatures[SIGNATURE] ?? model;
  const sequenceLength = checkContract(runner);
  const vocabulary = parseVocabulary(vocabularyText);
  const tokenizer = new WordTokenizer(vocabulary, sequenceLength);

  elements["model-size"].dataset.bytes = String(modelSize);
  elements["model-size"].textContent =
    `${integer.format(modelSize)} bytes (${(modelSize / 1024).toFixed(1)} KiB)`;
  elements["vocabulary-size"].textContent =
    `${integer.format(vocabulary.length)} tokens`;
  elements["sequence-length"].textContent =
    `${sequenceLength} word ids (cut or padded with 0)`;
  elements.runtime.textContent = "LiteRT.js, CPU (WebAssembly)";
  return { runner, tokenizer };
}

// Runs the model on one text; returns the probability that it is positive.
async function predict({ runner, tokenizer }, ids) {
  const input = new Tensor(ids, [1, tokenizer.sequenceLength]);
  let outputs;
  try {
    outputs = await runner.run([input]);
  } finally {
    input.delete();
  }
  try {
    return (await outputs[0].data())[0];
  } finally {
    for (const output of outputs) output.delete();
  }
}

function showTokens(tokenizer, text) {
  const tokens = splitWords(text);
  const chips = tokens.slice(0, tokenizer.sequenceLength).map((token) => {
    const chip = document.createElement("span");
    chip.className = "token";
    chip.textContent = token;
    if (!tokenizer.ids.has(token)) {
      chip.classList.add("unknown");
      chip.title = "not in the vocabulary: id 1 ([UNK])";
    }
    return chip;
  });
  elements.tokens.replaceChildren(...chips);
  if (tokens.length > tokenizer.sequenceLength) {
    const note = document.createElement("span");
    const cut = tokens.length - tokenizer.sequenceLength;
    note.textContent = ` … ${cut} more words cut`;
    elements.tokens.append(note);
  }
}

function showPrediction(text, ids, probability) {
  // With no word at all, the model averages over nothing: NaN.
  const known = Number.isFinite(probability);
  const label = !known ? "none" : probability >= 0.5 ? "positive" : "negative";
  Object.assign(elements.result.dataset, {
    text,
    ids: ids.join(","),
    // A float32 converts exactly to a JavaScript number; String() prints
    // the shortest decimal that reads back as the same number.
    probability: String(probability),
    label,
  });
  elements.label.textContent = {
    positive: "Positive",
    negative: "Negative",
    none: "Type a review to classify it",
  }[label];
  const format = (value) => (known ? percent.format(value) : "–");
  elements.positive.textContent = format(probability);
  elements.negative.textContent = format(1 - probability);
  elements["bar-positive"].style.width = `${known ? probability * 100 : 50}%`;
}

// Classifies the textarea's text; while a run is going on, further edits
// only mark it as stale, so that the last text always gets classified.
function startClassifier(demo) {
  let running = false;
  let stale = false;
  return async function classify() {
    if (running) {
      stale = true;
      return;
    }
    running = true;
    elements.result.dataset.busy = "true";
    try {
      do {
        stale = false;
        const text = elements.text.value;
        const ids = demo.tokenizer.encode(text);
        const probability = await predict(demo, ids);
        showTokens(demo.tokenizer, text);
        showPrediction(text, ids, probability);
      } while (stale);
    } catch (error) {
      setStatus("error", `Error: ${error.message}`);
      throw error;
    } finally {
      running = false;
      elements.result.dataset.busy = "false";
    }
  };
}

async function main() {
  try {
    const demo = await loadDemo();
    const classify = startClassifier(demo);
    elements.text.addEventListener("input", classify);
    for (const button of document.querySelectorAll(".examples button")) {
      button.addEventListener("click", () => {
        elements.text.value = button.textContent;
        classify();
      });
    }
    elements.text.disabled = false;
    await classify();
    setStatus("ready", "Model loaded. Type a review to classify it.");
  } catch (error) {
    setStatus("error", `Error: ${error.message}`);
    throw error;
  }
}

main();
