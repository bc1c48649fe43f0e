package com.example.kerasdccl.sentiment

import android.app.Activity
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * One screen: type a sentence, tap "Classify", read the sentiment.
 *
 * The model is loaded and run on one background thread, which alone
 * touches [classifier]; the views are updated on the UI thread.
 */
class MainActivity : Activity() {
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var classifier: SentimentClassifier? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        val textInput = findViewById<EditText>(R.id.text_input)
        val classifyButton = findViewById<Button>(R.id.classify_button)
        val result = findViewById<TextView>(R.id.result)

        classifyButton.isEnabled = false
        result.setText(R.string.loading)
        worker.execute {
            val message = try {
                classifier = SentimentClassifier(assets)
                getString(R.string.ready)
            } catch (error: Exception) {
                getString(
                    R.string.load_failed,
                    MODEL_ASSET,
                    VOCABULARY_ASSET,
                    error.toString()
                )
            }
            val loaded = classifier != null
            runOnUiThread {
                result.text = message
                classifyButton.isEnabled = loaded
            }
        }

        classifyButton.setOnClickListener {
            val text = textInput.text.toString()
            worker.execute {
                val message = try {
                    val prediction = classifier?.classify(text)
                    prediction?.toString() ?: getString(R.string.no_words)
                } catch (error: Exception) {
                    getString(R.string.classify_failed, error.toString())
                }
                runOnUiThread { result.text = message }
            }
        }
    }

    override fun onDestroy() {
        worker.execute {
            classifier?.close()
            classifier = null
        }
        worker.shutdown()
        super.onDestroy()
    }
}
