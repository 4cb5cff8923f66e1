"""Report rows on stdout: TSV with a header (the default), a JSON array, or JSON lines.

TSV is unpadded UTF-8: one row per line, fields joined by tabs; tabs and line breaks inside a value become
spaces so a row stays one line. Missing values are empty; JSON keeps types and writes null. Every value
passes the same redactor as the logs (docs/lifecycle.md, safety rule 8): a secret quoted in a name or a
reason never reaches the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TextIO

from engine.redact import redact_value

Value = str | int | float | bool | None
Row = Mapping[str, Value]

FORMATS = ("tsv", "json", "jsonl")


def tsv_field(value: Value) -> str:
    """One TSV cell."""
    if value is None:
        return ""
    text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


class ReportWriter:
    """Writes rows as they come (nothing is held back), in one of FORMATS."""

    def __init__(self, stream: TextIO, columns: Sequence[str], fmt: str = "tsv") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown report format {fmt!r}")
        self._stream = stream
        self._columns = tuple(columns)
        self._fmt = fmt
        self._rows = 0
        if fmt == "tsv":
            self._write("\t".join(self._columns) + "\n")
        elif fmt == "json":
            self._write("[")

    @property
    def rows(self) -> int:
        return self._rows

    def row(self, row: Row) -> None:
        values = {c: redact_value(row.get(c)) for c in self._columns}
        if self._fmt == "tsv":
            self._write("\t".join(tsv_field(values[c]) for c in self._columns) + "\n")
        elif self._fmt == "jsonl":
            self._write(json.dumps(values, ensure_ascii=False) + "\n")
        else:
            self._write(("\n" if self._rows == 0 else ",\n") + json.dumps(values, ensure_ascii=False))
        self._rows += 1

    def close(self) -> None:
        if self._fmt == "json":
            self._write("\n]\n" if self._rows else "]\n")
        self._stream.flush()

    def _write(self, text: str) -> None:
        self._stream.write(text)
