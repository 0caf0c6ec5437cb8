"""A fast encoder of the Prometheus text format (0.0.4) for the exporter's own families.

client_python's ``generate_latest`` validates and escapes every label name of every
sample; at 10,000 rooms (~400,000 samples) that takes seconds.  The exporter's
families have valid names by construction, so this encoder only escapes label
values and HELP text.  Its output parses to exactly what ``generate_latest`` gives
(tests/test_exporter_exposition.py); families of other types fall back to it.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Iterable, Iterator

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from vcfleet.exporter.metrics import Family

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SIMPLE = {"gauge": ("", "gauge"), "counter": ("_total", "counter"), "info": ("_info", "gauge")}


class _One(Collector):
    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self.metric


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")
    return value


def _number(value: float) -> str:
    v = float(value)
    if math.isfinite(v):
        return repr(v)
    return "NaN" if math.isnan(v) else "+Inf" if v > 0 else "-Inf"


def render_text(families: Iterable[Metric]) -> bytes:
    """The families in the text exposition format, as UTF-8."""
    out: list[str] = []
    append = out.append
    for fam in families:
        kind = _SIMPLE.get(fam.type)
        if kind is None or any(s.timestamp is not None for s in fam.samples):
            append(generate_latest(_One(fam)).decode("utf-8"))
            continue
        name = fam.name + kind[0]
        doc = fam.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {name} {doc}\n# TYPE {name} {kind[1]}\n")
        for s in fam.samples:
            v = s.value
            value = repr(float(v)) if math.isfinite(v) else _number(v)
            if not s.labels:
                append(f"{s.name} {value}\n")
                continue
            labels = '",'.join([f'{k}="{v}' for k, v in s.labels.items()])
            if "\\" in labels or "\n" in labels or labels.count('"') != 2 * len(s.labels) - 1:
                # rare (a quote, backslash or newline in a room's name): escape each value
                labels = '",'.join([f'{k}="{_escape(v)}' for k, v in s.labels.items()])
            append(f'{s.name}{{{labels}"}} {value}\n')
    return "".join(out).encode("utf-8")


def render_families(families: Iterable[Family]) -> bytes:
    """Per-endpoint families in the text format; each endpoint's label text is built once."""
    out: list[str] = []
    append = out.append
    endpoint_text: dict[str, str] = {}
    rest_text: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
    for fam in families:
        name = fam.name + "_info" if fam.info else fam.name
        doc = fam.help.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {name} {doc}\n# TYPE {name} gauge\n")
        for eid, rest, value in fam.rows:
            ep = endpoint_text.get(eid)
            if ep is None:
                ep = endpoint_text[eid] = f'endpoint="{_escape(eid)}"'
            if rest:
                key = (fam.labels, rest)
                more = rest_text.get(key)
                if more is None:
                    more = rest_text[key] = "".join(
                        [f',{k}="{_escape(v)}"' for k, v in zip(fam.labels, rest, strict=True)])
            else:
                more = ""
            number = repr(value) if math.isfinite(value) else _number(value)
            append(f"{name}{{{ep}{more}}} {number}\n")
    return "".join(out).encode("utf-8")


class CachedText:
    """Rendered text that many scrapes serve, with its gzip compression kept half-done.

    A scrape's body is this text followed by a short, fresh tail (the exporter's own
    series).  The text is compressed once; each scrape copies the compressor's state
    and compresses only the tail, giving one ordinary gzip stream.
    """

    def __init__(self, text: bytes) -> None:
        self.text = text
        self._gzip: tuple[bytes, zlib._Compress] | None = None
        self._lock = threading.Lock()

    def gzip_with(self, tail: bytes) -> bytes:
        """gzip of ``text + tail``."""
        with self._lock:
            if self._gzip is None:
                compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                self._gzip = (compressor.compress(self.text), compressor)
            head, state = self._gzip
        compressor = state.copy()
        return head + compressor.compress(tail) + compressor.flush()
