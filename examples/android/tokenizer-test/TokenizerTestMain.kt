// A command-line driver for SentimentText.kt, so that the app's text
// processing can be checked on a JVM without Android. It is not part of the
// app: tests/test_android_demo.py compiles it together with
// app/src/main/java/com/example/kerasdccl/sentiment/SentimentText.kt and
// compares its answers with Python's.
//
//   tokenize VOCABULARY_FILE SEQUENCE_LENGTH TEXTS_FILE
//       TEXTS_FILE holds one JSON string literal per line (ASCII, as
//       Python's json.dumps writes it). Prints one JSON object per text:
//       {"tokens": [...], "ids": [...]} with the ids of
//       WordTokenizer.encode.
//   sweep
//       Prints "HEX<TAB>CATEGORY<TAB>[tokens]" for every code point that
//       this JVM's Unicode tables assign, apart from surrogates and private
//       use: the code point in hexadecimal, its general category as Python
//       names it ("Lu", "Mn", ...), and the tokens of the one-character text.
//   predict OUTPUTS_FILE
//       OUTPUTS_FILE holds one model output per line, comma-separated
//       floats. Prints "label<TAB>probability<TAB>text" per line, or
//       "error<TAB>message" where predictionFromOutput rejects the output.
//   classify VOCABULARY_FILE SEQUENCE_LENGTH TEXTS_FILE OUTPUTS_FILE
//       Runs classifyText on each text with a stand-in for the model that
//       returns the output on the same line of OUTPUTS_FILE. Prints what
//       predict prints, or "none" where the text has no words.
//
// A bad vocabulary file or bad arguments print "error: ..." and exit 1.
package com.example.kerasdccl.sentiment

import java.io.BufferedWriter
import java.io.File
import java.io.OutputStreamWriter
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    val out = BufferedWriter(OutputStreamWriter(System.out, Charsets.UTF_8))
    try {
        when (args.firstOrNull()) {
            "tokenize" -> tokenize(args, out)
            "sweep" -> sweep(out)
            "predict" -> predict(args, out)
            "classify" -> classify(args, out)
            else -> throw IllegalArgumentException(
                "usage: tokenize VOCABULARY_FILE SEQUENCE_LENGTH TEXTS_FILE" +
                    " | sweep | predict OUTPUTS_FILE | classify" +
                    " VOCABULARY_FILE SEQUENCE_LENGTH TEXTS_FILE OUTPUTS_FILE"
            )
        }
    } catch (error: Exception) {
        out.flush()
        System.err.println("error: ${error.message}")
        exitProcess(1)
    }
    out.flush()
}

private fun tokenize(args: Array<String>, out: BufferedWriter) {
    require(args.size == 4) { "tokenize takes 3 arguments" }
    val vocabulary = readVocabulary(File(args[1]).readBytes())
    val tokenizer = WordTokenizer(vocabulary, args[2].toInt())
    for (line in lines(File(args[3]))) {
        val text = parseJsonString(line)
        val tokens = splitWords(text).joinToString(",") { jsonString(it) }
        val ids = tokenizer.encode(text).joinToString(",")
        out.write("{\"tokens\":[$tokens],\"ids\":[$ids]}\n")
    }
}

// Java's general category numbers (Character.getType) as Unicode names them.
private val CATEGORY_NAMES = mapOf(
    Character.UNASSIGNED to "Cn",
    Character.UPPERCASE_LETTER to "Lu",
    Character.LOWERCASE_LETTER to "Ll",
    Character.TITLECASE_LETTER to "Lt",
    Character.MODIFIER_LETTER to "Lm",
    Character.OTHER_LETTER to "Lo",
    Character.NON_SPACING_MARK to "Mn",
    Character.ENCLOSING_MARK to "Me",
    Character.COMBINING_SPACING_MARK to "Mc",
    Character.DECIMAL_DIGIT_NUMBER to "Nd",
    Character.LETTER_NUMBER to "Nl",
    Character.OTHER_NUMBER to "No",
    Character.SPACE_SEPARATOR to "Zs",
    Character.LINE_SEPARATOR to "Zl",
    Character.PARAGRAPH_SEPARATOR to "Zp",
    Character.CONTROL to "Cc",
    Character.FORMAT to "Cf",
    Character.PRIVATE_USE to "Co",
    Character.SURROGATE to "Cs",
    Character.DASH_PUNCTUATION to "Pd",
    Character.START_PUNCTUATION to "Ps",
    Character.END_PUNCTUATION to "Pe",
    Character.CONNECTOR_PUNCTUATION to "Pc",
    Character.OTHER_PUNCTUATION to "Po",
    Character.MATH_SYMBOL to "Sm",
    Character.CURRENCY_SYMBOL to "Sc",
    Character.MODIFIER_SYMBOL to "Sk",
    Character.OTHER_SYMBOL to "So",
    Character.INITIAL_QUOTE_PUNCTUATION to "Pi",
    Character.FINAL_QUOTE_PUNCTUATION to "Pf"
).mapKeys { it.key.toInt() }

private fun sweep(out: BufferedWriter) {
    for (codePoint in 0..Character.MAX_CODE_POINT) {
        val category = CATEGORY_NAMES.getValue(Character.getType(codePoint))
        if (category == "Cn" || category == "Cs" || category == "Co") continue
        val text = String(Character.toChars(codePoint))
        val tokens = splitWords(text).joinToString(",") { jsonString(it) }
        out.write("${Integer.toHexString(codePoint)}\t$category\t[$tokens]\n")
    }
}

private fun predict(args: Array<String>, out: BufferedWriter) {
    require(args.size == 2) { "predict takes 1 argument" }
    for (line in lines(File(args[1]))) {
        writePrediction(out) { predictionFromOutput(parseOutput(line)) }
    }
}

private fun classify(args: Array<String>, out: BufferedWriter) {
    require(args.size == 5) { "classify takes 4 arguments" }
    val vocabulary = readVocabulary(File(args[1]).readBytes())
    val tokenizer = WordTokenizer(vocabulary, args[2].toInt())
    val texts = lines(File(args[3]))
    val outputs = lines(File(args[4]))
    require(texts.size == outputs.size) { "one output per text" }
    for ((index, line) in texts.withIndex()) {
        writePrediction(out) {
            classifyText(parseJsonString(line), tokenizer) {
                parseOutput(outputs[index])
            }
        }
    }
}

private fun parseOutput(line: String): FloatArray =
    if (line.length == 0) {
        FloatArray(0)
    } else {
        line.split(",").map { it.toFloat() }.toFloatArray()
    }

private fun writePrediction(out: BufferedWriter, predict: () -> Prediction?) {
    try {
        val prediction = predict()
        if (prediction == null) {
            out.write("none\n")
        } else {
            out.write("${prediction.label}\t${prediction.probability}\t")
            out.write("$prediction\n")
        }
    } catch (error: IllegalArgumentException) {
        out.write("error\t${error.message}\n")
    }
}

private fun lines(file: File): List<String> {
    val text = file.readText(Charsets.UTF_8)
    if (text.length == 0) return emptyList()
    require(text.endsWith("\n")) { "${file.name}: the last line has no newline" }
    return text.substring(0, text.length - 1).split("\n")
}

/** Decodes a JSON string literal (all escapes, including \uXXXX). */
private fun parseJsonString(literal: String): String {
    require(literal.length >= 2 && literal.startsWith("\"") &&
        literal.endsWith("\"")) { "not a JSON string: $literal" }
    val text = StringBuilder()
    var index = 1
    while (index < literal.length - 1) {
        val character = literal[index]
        if (character != '\\') {
            text.append(character)
            index += 1
            continue
        }
        val escape = literal[index + 1]
        when (escape) {
            '"', '\\', '/' -> text.append(escape)
            'b' -> text.append('\b')
            'f' -> text.append('\u000C')
            'n' -> text.append('\n')
            'r' -> text.append('\r')
            't' -> text.append('\t')
            'u' -> {
                val hex = literal.substring(index + 2, index + 6)
                text.append(Integer.parseInt(hex, 16).toChar())
                index += 4
            }
            else -> throw IllegalArgumentException("bad escape in $literal")
        }
        index += 2
    }
    return text.toString()
}

/** Encodes a JSON string literal in ASCII (\uXXXX for any other unit). */
private fun jsonString(text: String): String {
    val literal = StringBuilder("\"")
    for (character in text) {
        when {
            character == '"' || character == '\\' ->
                literal.append('\\').append(character)
            character < ' ' || character > '~' ->
                literal.append(String.format("\\u%04x", character.toInt()))
            else -> literal.append(character)
        }
    }
    return literal.append('"').toString()
}
