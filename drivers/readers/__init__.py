"""Smart-card reader adapters: PC/SC (pyscard) and an in-process fake, opened by URL
with :func:`open_reader` (``pcsc://<reader name>``; ``sim://`` when the
simulators are installed)."""

from __future__ import annotations

from urllib.parse import urlsplit

from drivers.readers.base import ChipPolicy, ChipVerdict, Reader, ReaderError
from drivers.registry import READERS


def open_reader(url: str, policy: ChipPolicy | None = None) -> Reader:
    """The reader adapter for ``url`` (it connects on first use)."""
    scheme = urlsplit(url).scheme
    if not scheme or "://" not in url or scheme not in READERS:
        raise ValueError(f"unsupported reader URL {url!r}: use pcsc://<reader name> "
                         f"(schemes: {', '.join(READERS.names())})")
    factory = READERS.get(scheme)
    return factory(url, policy)  # type: ignore[no-any-return]


__all__ = ["ChipPolicy", "ChipVerdict", "Reader", "ReaderError", "open_reader"]
