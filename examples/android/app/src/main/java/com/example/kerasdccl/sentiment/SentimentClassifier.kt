package com.example.kerasdccl.sentiment

import android.content.res.AssetManager
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel

/**
 * The exported sentiment model and its vocabulary, read from the app's
 * assets and run with the LiteRT CompiledModel API on the CPU.
 *
 * The model contract (file names, signature, tensor names, sequence
 * length) is declared in SentimentText.kt, where the tests check it.
 * Not thread-safe: call [classify] from one thread at a time.
 */
class SentimentClassifier(assets: AssetManager) : AutoCloseable {
    private val tokenizer = WordTokenizer(
        readVocabulary(assets.open(VOCABULARY_ASSET).use { it.readBytes() }),
        SEQUENCE_LENGTH
    )
    private val model = CompiledModel.create(
        assets,
        MODEL_ASSET,
        CompiledModel.Options(Accelerator.CPU)
    )
    private val input = model.createInputBuffer(INPUT_NAME, SIGNATURE_KEY)
    private val output = model.createOutputBuffer(OUTPUT_NAME, SIGNATURE_KEY)

    /** The sentiment of [text], or null if it has no words. */
    fun classify(text: String): Prediction? =
        classifyText(text, tokenizer) { ids ->
            input.writeInt(ids)
            model.run(
                mapOf(INPUT_NAME to input),
                mapOf(OUTPUT_NAME to output),
                SIGNATURE_KEY
            )
            output.readFloat()
        }

    override fun close() {
        input.close()
        output.close()
        model.close()
    }
}
