// The app's text processing and model contract, in plain Kotlin with no
// Android imports, so that it runs on any JVM: tests/test_android_demo.py
// compiles this file with kotlinc, checks the tokenizer against
// tests/data/tokenizer_vectors.json (the cases that the Python tokenizer,
// keras_dccl/text/word_tokenizer.py, and the browser demo's port share), and
// checks the constants below against an exported model.
//
// Written for Kotlin 1.3 and later (the test compiles it with Debian's
// kotlinc 1.3): only Java and long-standing Kotlin standard library calls.
package com.example.kerasdccl.sentiment

import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.StandardCharsets
import java.text.Normalizer
import java.util.Locale

// The model contract: what `python examples/sentiment.py` exports.

/** The model file, in app/src/main/assets. */
const val MODEL_ASSET = "sentiment.tflite"

/** The vocabulary file written beside the model, in app/src/main/assets. */
const val VOCABULARY_ASSET = "vocabulary.txt"

/** The model's signature. */
const val SIGNATURE_KEY = "serving_default"

/** The signature's input: int32 word ids of shape [1, SEQUENCE_LENGTH]. */
const val INPUT_NAME = "ids"

/** The signature's output: float32 [1, 1], the probability of "positive". */
const val OUTPUT_NAME = "output_0"

/** The number of word ids the model reads. */
const val SEQUENCE_LENGTH = 64

const val PAD_TOKEN = "[PAD]"
const val UNK_TOKEN = "[UNK]"
const val PAD_ID = 0
const val UNK_ID = 1

// Code point ranges that are tokens of their own: the ASCII symbols, then
// the CJK ideographs (the ranges of BERT's basic tokenizer).
private val SINGLE_CHARACTER_RANGES = arrayOf(
    33..47,
    58..64,
    91..96,
    123..126,
    0x4E00..0x9FFF,
    0x3400..0x4DBF,
    0x20000..0x2A6DF,
    0x2A700..0x2B73F,
    0x2B740..0x2B81F,
    0x2B820..0x2CEAF,
    0xF900..0xFAFF,
    0x2F800..0x2FA1F
)

// What U+1C80..U+1C88 (Cyrillic letter variants) case-fold to.
private const val CYRILLIC_FOLDS =
    "\u0432\u0434\u043E\u0441\u0442\u0442\u044A\u0463\uA64B"

private val NON_SPACING_MARK = Character.NON_SPACING_MARK.toInt()
private val FORMAT = Character.FORMAT.toInt()
private val CONTROL = Character.CONTROL.toInt()
private val SEPARATORS = intArrayOf(
    Character.SPACE_SEPARATOR.toInt(),
    Character.LINE_SEPARATOR.toInt(),
    Character.PARAGRAPH_SEPARATOR.toInt()
)
private val PUNCTUATION = intArrayOf(
    Character.CONNECTOR_PUNCTUATION.toInt(),
    Character.DASH_PUNCTUATION.toInt(),
    Character.START_PUNCTUATION.toInt(),
    Character.END_PUNCTUATION.toInt(),
    Character.INITIAL_QUOTE_PUNCTUATION.toInt(),
    Character.FINAL_QUOTE_PUNCTUATION.toInt(),
    Character.OTHER_PUNCTUATION.toInt()
)

/**
 * Appends Python's `str.casefold()` of one code point of NFKD text.
 *
 * Java has no case folding. It differs from the simple lowercase mapping
 * only on the code points handled here, once the text is NFKD-normalized
 * (NFKD already turns ligatures, ſ, µ, ϐ and the like into plain letters).
 * Folding one code point at a time also avoids the final sigma of
 * `String.toLowerCase` ("ΣΑΣ" -> "σας"), which case folding does not have.
 */
private fun appendCaseFolded(folded: StringBuilder, codePoint: Int) {
    when (codePoint) {
        0x00DF, 0x1E9E -> folded.append("ss") // ß, ẞ
        0x0345 -> folded.append('\u03B9') // combining ypogegrammeni -> ι
        0x03C2 -> folded.append('\u03C3') // ς -> σ
        in 0x1C80..0x1C88 -> folded.append(CYRILLIC_FOLDS[codePoint - 0x1C80])
        // Cherokee folds to its capital letters, unlike lowercasing.
        in 0x13A0..0x13F5 -> folded.appendCodePoint(codePoint)
        in 0x13F8..0x13FD -> folded.appendCodePoint(codePoint - 8)
        in 0xAB70..0xABBF -> folded.appendCodePoint(codePoint - 0xAB70 + 0x13A0)
        else -> folded.appendCodePoint(Character.toLowerCase(codePoint))
    }
}

private fun isSingleCharacterToken(codePoint: Int, type: Int): Boolean {
    if (type in PUNCTUATION) return true
    for (range in SINGLE_CHARACTER_RANGES) {
        if (codePoint in range) return true
    }
    return false
}

/**
 * Splits a string into the tokens of the word-level vocabulary, exactly as
 * `keras_dccl.text.split_words` does:
 *
 * 1. NFKD-normalize, case-fold, NFKD-normalize again.
 * 2. Drop combining marks (category Mn) and format characters (Cf).
 * 3. Whitespace, control characters (Cc) and separators (Z*) end a word.
 * 4. Every punctuation character (P*, or an ASCII symbol such as `$`, `+`,
 *    `<`, `^`, `|`) and every CJK ideograph is a token of its own.
 * 5. Any other run of characters is a word.
 *
 * So "Don't stop" becomes [don, ', t, stop].
 */
fun splitWords(text: String): List<String> {
    val decomposed = Normalizer.normalize(text, Normalizer.Form.NFKD)
    val folded = StringBuilder(decomposed.length)
    var index = 0
    while (index < decomposed.length) {
        val codePoint = decomposed.codePointAt(index)
        appendCaseFolded(folded, codePoint)
        index += Character.charCount(codePoint)
    }
    val normalized = Normalizer.normalize(folded, Normalizer.Form.NFKD)
    val tokens = ArrayList<String>()
    val word = StringBuilder()
    index = 0
    while (index < normalized.length) {
        val codePoint = normalized.codePointAt(index)
        index += Character.charCount(codePoint)
        val type = Character.getType(codePoint)
        if (type == NON_SPACING_MARK || type == FORMAT) continue
        val isBoundary = type == CONTROL || type in SEPARATORS
        if (!isBoundary && !isSingleCharacterToken(codePoint, type)) {
            word.appendCodePoint(codePoint)
            continue
        }
        if (word.length > 0) {
            tokens.add(word.toString())
            word.setLength(0)
        }
        if (!isBoundary) tokens.add(String(Character.toChars(codePoint)))
    }
    if (word.length > 0) tokens.add(word.toString())
    return tokens
}

/**
 * The tokens of a vocabulary file: UTF-8, one token per line, "[PAD]" on
 * line 1 and "[UNK]" on line 2, every line ending with a newline. A token's
 * id is its line number minus one. A file that breaks these rules raises
 * [IllegalArgumentException] (the header is checked by [WordTokenizer]).
 */
fun readVocabulary(fileBytes: ByteArray): List<String> {
    val text = try {
        StandardCharsets.UTF_8.newDecoder()
            .decode(ByteBuffer.wrap(fileBytes))
            .toString()
    } catch (error: CharacterCodingException) {
        throw IllegalArgumentException("$VOCABULARY_ASSET: not UTF-8", error)
    }
    require(text.endsWith("\n")) {
        "$VOCABULARY_ASSET: the last line has no newline"
    }
    return text.substring(0, text.length - 1).split("\n")
}

/**
 * Turns strings into the model's input: [sequenceLength] word ids.
 *
 * Words are split by [splitWords]. Id 0 ("[PAD]") pads, id 1 ("[UNK]")
 * stands for any word outside the vocabulary, and the other ids are the
 * vocabulary's words in file order. Longer texts are cut at the end. The
 * same rules as Python's `keras_dccl.text.WordTokenizer`.
 *
 * @param vocabulary The tokens, starting with "[PAD]" and "[UNK]", as
 *     [readVocabulary] returns them.
 * @param sequenceLength The length of every id sequence.
 */
class WordTokenizer(
    vocabulary: List<String>,
    val sequenceLength: Int = SEQUENCE_LENGTH
) {
    private val ids = HashMap<String, Int>(vocabulary.size * 2)

    val vocabularySize: Int = vocabulary.size

    init {
        require(sequenceLength >= 1) {
            "`sequenceLength` must be at least 1. " +
                "Received: sequenceLength=$sequenceLength"
        }
        require(
            vocabulary.size >= 2 &&
                vocabulary[0] == PAD_TOKEN &&
                vocabulary[1] == UNK_TOKEN
        ) {
            "$VOCABULARY_ASSET: must start with \"$PAD_TOKEN\" and " +
                "\"$UNK_TOKEN\". Received: ${vocabulary.take(2)}"
        }
        for ((index, token) in vocabulary.withIndex()) {
            require(token.isNotEmpty()) {
                "$VOCABULARY_ASSET:${index + 1}: empty line"
            }
            val previous = ids.put(token, index)
            require(previous == null) {
                "$VOCABULARY_ASSET:${index + 1}: \"$token\" repeats line " +
                    "${(previous ?: 0) + 1}"
            }
        }
    }

    /** Ids of the words of [text], without padding or cutting. */
    fun tokenize(text: String): IntArray {
        val tokens = splitWords(text)
        return IntArray(tokens.size) { ids[tokens[it]] ?: UNK_ID }
    }

    /** [sequenceLength] ids: those of [tokenize], cut, padded with 0. */
    fun encode(text: String): IntArray {
        val tokenIds = tokenize(text)
        val encoded = IntArray(sequenceLength) { PAD_ID }
        val count = minOf(tokenIds.size, sequenceLength)
        System.arraycopy(tokenIds, 0, encoded, 0, count)
        return encoded
    }
}

/**
 * A sentiment and how sure the model is of it.
 *
 * @param isPositive Whether the text reads as positive.
 * @param probability The probability of that label, in [0.5, 1].
 */
class Prediction(val isPositive: Boolean, val probability: Float) {
    val label: String
        get() = if (isPositive) "positive" else "negative"

    /** For example "positive (87.3%)". */
    override fun toString(): String =
        String.format(Locale.ROOT, "%s (%.1f%%)", label, probability * 100f)
}

/**
 * Reads the model's output (the probability that the text is positive) as
 * a [Prediction]: positive from 0.5 up. Anything but one probability in
 * [0, 1] means the model does not follow the contract and raises
 * [IllegalArgumentException].
 */
fun predictionFromOutput(output: FloatArray): Prediction {
    require(output.size == 1) {
        "`$OUTPUT_NAME` must hold one probability. " +
            "Received ${output.size} values"
    }
    val positive = output[0]
    require(positive >= 0f && positive <= 1f) {
        "`$OUTPUT_NAME` must be a probability in [0, 1]. Received: $positive"
    }
    return if (positive >= 0.5f) {
        Prediction(true, positive)
    } else {
        Prediction(false, 1f - positive)
    }
}

/**
 * Classifies [text] with [runModel], which takes the model input (the
 * [WordTokenizer.encode] ids) and returns the model output. Returns null,
 * without running the model, when the text has no words: the model
 * averages the vectors of the words, and an average of none is undefined
 * (the exported model returns NaN for an input of padding only).
 */
fun classifyText(
    text: String,
    tokenizer: WordTokenizer,
    runModel: (IntArray) -> FloatArray
): Prediction? {
    val ids = tokenizer.encode(text)
    if (ids[0] == PAD_ID) return null
    return predictionFromOutput(runModel(ids))
}
