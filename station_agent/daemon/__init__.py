"""The station daemon: :mod:`.service` (``station-agent run``: lock, signals,
systemd), :mod:`.station` (the wiring of one station), :mod:`.units` (its
printers and readers), :mod:`.pollers`, :mod:`.listeners` (the event bus's
subscribers), :mod:`.ops` (the local API's operations), :mod:`.status` (the
status documents)."""
