// Checks tokenizer.js against the Python tokenizer.
//
//   node test/tokenizer.test.mjs [VECTORS.json [CODE_POINTS.json]]
//
// VECTORS.json (default: tests/data/tokenizer_vectors.json) holds the cases
// shared by the Python, JavaScript and Kotlin tokenizers: every case's tokens
// and ids must match. CODE_POINTS.json (optional, written by
// tests/test_web_demo.py) lists [text, general category of its code point,
// tokens of Python's split_words] for texts built around every code point
// assigned in Python's Unicode version: all must match, except where this
// JavaScript engine's Unicode version puts the code point in another
// category (those are counted, not failed). Exits 1 on any mismatch.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { splitWords, WordTokenizer } from "../tokenizer.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const vectorsPath =
  process.argv[2] ??
  path.join(here, "..", "..", "..", "tests", "data", "tokenizer_vectors.json");
const codePointsPath = process.argv[3];

const failures = [];
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const vectors = JSON.parse(fs.readFileSync(vectorsPath, "utf8"));
const tokenizer = new WordTokenizer(
  vectors.vocabulary,
  vectors.sequence_length,
);
for (const { text, tokens, ids } of vectors.cases) {
  const gotTokens = splitWords(text);
  const gotIds = Array.from(tokenizer.encode(text));
  if (!same(gotTokens, tokens) || !same(gotIds, ids)) {
    failures.push(
      `${JSON.stringify(text)}: tokens ${JSON.stringify(gotTokens)}, ` +
        `ids ${JSON.stringify(gotIds)}; expected ${JSON.stringify(tokens)}, ` +
        `${JSON.stringify(ids)}`,
    );
  }
}
let summary = `${vectors.cases.length} shared cases`;

if (codePointsPath) {
  const CATEGORIES = (
    "Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So " +
    "Zs Zl Zp Cc Cf Cs Co Cn"
  ).split(" ");
  const patterns = CATEGORIES.map((name) => [
    name,
    new RegExp(`^\\p{gc=${name}}$`, "u"),
  ]);
  const category = (character) =>
    patterns.find(([, pattern]) => pattern.test(character))[0];
  const cases = JSON.parse(fs.readFileSync(codePointsPath, "utf8"));
  let skipped = 0;
  for (const [text, pythonCategory, tokens] of cases) {
    const codePoint = text.codePointAt(1); // Texts are "A" + character + ...
    const character = String.fromCodePoint(codePoint);
    if (category(character) !== pythonCategory) {
      skipped += 1;
      continue;
    }
    const got = splitWords(text);
    if (!same(got, tokens)) {
      failures.push(
        `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")} ` +
          `${JSON.stringify(text)}: ${JSON.stringify(got)}, expected ` +
          `${JSON.stringify(tokens)}`,
      );
    }
  }
  summary +=
    `, ${cases.length} code points (${skipped} skipped: another Unicode ` +
    `category in this engine, Unicode ${process.versions.unicode})`;
}

if (failures.length) {
  const shown = failures.slice(0, 50).join("\n");
  console.log(`FAILED ${failures.length}:\n${shown}`);
  process.exit(1);
}
console.log(`ok: ${summary}`);
