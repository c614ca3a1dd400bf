"""Models: loading (with context/RoPE overrides) and the tiny model factory."""
