// The word tokenizer of keras-dccl, ported from
// keras_dccl/text/word_tokenizer.py (`split_words`, `WordTokenizer`).
//
// A plain ES module with no DOM use: the page imports it, and node runs its
// tests (test/tokenizer.test.mjs) against tests/data/tokenizer_vectors.json,
// the cases that the Python, JavaScript and Kotlin tokenizers all share.

export const PAD_TOKEN = "[PAD]";
export const UNK_TOKEN = "[UNK]";
export const PAD_ID = 0;
export const UNK_ID = 1;

// Code point ranges that BERT's basic tokenizer splits into single characters.
const CJK_RANGES = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b820, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];
const ASCII_PUNCTUATION_RANGES = [
  [33, 47],
  [58, 64],
  [91, 96],
  [123, 126],
];
const SINGLE_CHARACTER_RANGES = ASCII_PUNCTUATION_RANGES.concat(CJK_RANGES);

const DROPPED = /^[\p{Mn}\p{Cf}]$/u;
const BOUNDARY = /^[\s\p{Cc}\p{Z}]$/u;
const PUNCTUATION = /^\p{P}$/u;

// JavaScript has no case folding. Python's `str.casefold()` and
// `toLowerCase()` of one code point differ only on the code points below
// (once the text is NFKD-normalized, as it is when folded): the full
// CaseFolding.txt mappings that are not lowercase mappings. Folding one code
// point at a time also avoids the context-dependent final sigma of
// `toLowerCase()` ("ΣΑΣ" -> "σας"), which case folding does not have.
const FOLDS = new Map([
  [0x00df, "ss"], // ß
  [0x1e9e, "ss"], // ẞ
  [0x0345, "\u03b9"], // combining ypogegrammeni -> ι
  [0x03c2, "\u03c3"], // ς -> σ
  // Cyrillic letter variants fold to the plain letters в д о с т т ъ ѣ ꙋ.
  ...Array.from("\u0432\u0434\u043e\u0441\u0442\u0442\u044a\u0463\ua64b").map(
    (letter, index) => [0x1c80 + index, letter],
  ),
]);

function inRanges(codePoint, ranges) {
  return ranges.some(([low, high]) => low <= codePoint && codePoint <= high);
}

function foldCodePoint(character) {
  const codePoint = character.codePointAt(0);
  const fold = FOLDS.get(codePoint);
  if (fold !== undefined) return fold;
  // Cherokee folds to its capital letters, unlike lowercasing.
  if (codePoint >= 0x13a0 && codePoint <= 0x13f5) return character;
  if (codePoint >= 0x13f8 && codePoint <= 0x13fd) {
    return String.fromCodePoint(codePoint - 8);
  }
  if (codePoint >= 0xab70 && codePoint <= 0xabbf) {
    return String.fromCodePoint(codePoint - 0xab70 + 0x13a0);
  }
  return character.toLowerCase();
}

/** Python's `str.casefold()`, for NFKD-normalized text. */
export function caseFold(text) {
  let folded = "";
  for (const character of text) folded += foldCodePoint(character);
  return folded;
}

/**
 * Splits a string into the tokens of the word-level vocabulary, exactly as
 * keras_dccl.text.split_words does:
 *
 * 1. NFKD-normalize, case-fold, NFKD-normalize again.
 * 2. Drop combining marks (category Mn) and format characters (Cf).
 * 3. Whitespace, control characters (Cc) and separators (Z*) end a word.
 * 4. Every punctuation character (P*, or an ASCII symbol such as `$`, `+`,
 *    `<`, `^`, `` ` ``, `|`) and every CJK ideograph is a token of its own.
 * 5. Any other run of characters is a word.
 *
 * @param {string} text
 * @returns {string[]}
 */
export function splitWords(text) {
  const normalized = caseFold(text.normalize("NFKD")).normalize("NFKD");
  const tokens = [];
  let word = "";
  for (const character of normalized) {
    if (DROPPED.test(character)) continue;
    let boundary;
    if (BOUNDARY.test(character)) {
      boundary = null;
    } else if (
      PUNCTUATION.test(character) ||
      inRanges(character.codePointAt(0), SINGLE_CHARACTER_RANGES)
    ) {
      boundary = character;
    } else {
      word += character;
      continue;
    }
    if (word) {
      tokens.push(word);
      word = "";
    }
    if (boundary) tokens.push(boundary);
  }
  if (word) tokens.push(word);
  return tokens;
}

/**
 * Reads the text of a vocabulary file: UTF-8, one token per line, "[PAD]"
 * on line 1 and "[UNK]" on line 2; the line number minus one is the id.
 *
 * @param {string} text
 * @returns {string[]}
 */
export function parseVocabulary(text) {
  if (!text.endsWith("\n")) {
    throw new Error("vocabulary: the last line has no newline");
  }
  const vocabulary = text.slice(0, -1).split("\n");
  if (vocabulary[0] !== PAD_TOKEN || vocabulary[1] !== UNK_TOKEN) {
    throw new Error(
      `vocabulary: must start with "${PAD_TOKEN}" and "${UNK_TOKEN}"`,
    );
  }
  return vocabulary;
}

/** Turns strings into fixed-length id sequences over a word vocabulary. */
export class WordTokenizer {
  /**
   * @param {string[]} vocabulary Tokens, starting with "[PAD]", "[UNK]".
   * @param {number} sequenceLength The length of every id sequence.
   */
  constructor(vocabulary, sequenceLength) {
    if (!Number.isInteger(sequenceLength) || sequenceLength < 1) {
      throw new Error(
        "sequenceLength must be a positive integer. " +
          `Received: ${sequenceLength}`,
      );
    }
    if (vocabulary[0] !== PAD_TOKEN || vocabulary[1] !== UNK_TOKEN) {
      throw new Error(
        `vocabulary must start with "${PAD_TOKEN}" and "${UNK_TOKEN}"`,
      );
    }
    this.vocabulary = vocabulary;
    this.sequenceLength = sequenceLength;
    this.ids = new Map(vocabulary.map((token, index) => [token, index]));
  }

  /** Ids of the words of one string, without padding or cutting. */
  tokenize(text) {
    return splitWords(text).map((token) => this.ids.get(token) ?? UNK_ID);
  }

  /** An Int32Array of `sequenceLength` ids: cut at the end, padded with 0. */
  encode(text) {
    const ids = new Int32Array(this.sequenceLength); // Zeros: PAD_ID.
    ids.set(this.tokenize(text).slice(0, this.sequenceLength));
    return ids;
  }
}
