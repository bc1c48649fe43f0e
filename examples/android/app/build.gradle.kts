plugins {
    id("com.android.application")
}

android {
    namespace = "com.example.kerasdccl.sentiment"
    compileSdk = 36

    defaultConfig {
        applicationId = "com.example.kerasdccl.sentiment"
        // The LiteRT 2.3.0 Android libraries declare minSdk 24.
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "1.0"
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // Keep the model uncompressed in the APK.
    androidResources {
        noCompress += "tflite"
    }
}

dependencies {
    // The LiteRT runtime (CompiledModel API), bundled in the APK.
    implementation("com.google.ai.edge.litert:litert:2.3.0")
}
