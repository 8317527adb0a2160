"""Speech: audio codecs, prompt rendering (TTS in a worker process) and speech recognition.

Nothing here is imported by the pure engines; the runtime and adapters use it.
"""
