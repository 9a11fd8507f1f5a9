"""Run every benchmark; each prints one JSON object per line.

Options (``--dir``, ``--entries``, ``--commits``) go to the ledger benchmarks;
run ``python -m bench.printer --help`` for the printer ones alone.
"""

from bench import ledger, printer

ledger.main()
printer.main([])
