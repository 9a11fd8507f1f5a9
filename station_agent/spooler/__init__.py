"""The print spooler path (DESIGN §8, docs/SPOOLER.md): the ``station`` CUPS
backend and its journal, IPP to cupsd, queue reasons as faults, and the
daemon's side that turns spooled jobs into ledger transfers."""
