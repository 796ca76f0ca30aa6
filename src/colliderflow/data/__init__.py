"""Data layer: one reader per on-disk format, toy generators that write those
formats, and the download helper for the real sources."""
