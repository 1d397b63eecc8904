"""The run directory's files: JSON and CSV written atomically, the per-image table, summaries
and provenance."""

from colorbench.results.files import (
    FIXED_COLUMNS,
    GT_DIR,
    PerImageWriter,
    atomic_write_text,
    format_value,
    parse_value,
    read_json,
    read_rows,
    write_json,
)

__all__ = ["FIXED_COLUMNS", "GT_DIR", "PerImageWriter", "atomic_write_text", "format_value",
           "parse_value", "read_json", "read_rows", "write_json"]
