"""The run directory's files: the typed run manifest (run.json), JSON and CSV written
atomically, the per-image table, summaries and provenance."""

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
from colorbench.results.manifest import SCHEMA_VERSION, PairRecord, RunManifest, load

__all__ = ["FIXED_COLUMNS", "GT_DIR", "SCHEMA_VERSION", "PairRecord", "PerImageWriter", "RunManifest",
           "atomic_write_text", "format_value", "load", "parse_value", "read_json", "read_rows", "write_json"]
