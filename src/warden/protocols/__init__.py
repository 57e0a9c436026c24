"""Sans-IO codecs and provider adapters: bytes in, typed events out."""
