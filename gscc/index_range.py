"""``"START:END"`` text to a half-open range of whole numbers (frames, segments); numpy-
and torch-free, for the dataset loaders and the decoder-side tools alike."""

from __future__ import annotations

from typing import Optional


def parse_index_range(text: str) -> tuple[int, Optional[int]]:
    """``"START:END"`` (either side may be empty: START 0, END None meaning "to the last")
    or one index ``"N"`` (N:N+1). Raises ValueError for anything else."""
    value = text.strip()
    if ":" in value:
        start_text, end_text = value.split(":", 1)
        return (int(start_text) if start_text.strip() else 0), (int(end_text) if end_text.strip() else None)
    start = int(value)
    return start, start + 1
