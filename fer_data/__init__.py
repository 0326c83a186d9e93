"""The bottom layer: face tables, emotion names, dataset readers, splits, the synthetic demo set,
atomic writes and logging helpers. It imports nothing from ``features``, ``models``, ``reports`` or
``pipeline``; everything above may import it."""
