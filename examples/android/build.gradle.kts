// Android Gradle plugin 9 compiles Kotlin itself ("built-in Kotlin"): no
// org.jetbrains.kotlin.android plugin is applied.
plugins {
    id("com.android.application") version "9.0.1" apply false
}
