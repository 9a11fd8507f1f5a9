"""Run every benchmark; each prints one JSON object per line.

Options (``--dir``, ``--entries``, ``--commits``) go to the ledger benchmarks;
``python -m bench.printer`` and ``python -m bench.reader`` run the others alone.
"""

from bench import ledger, printer, reader

ledger.main()
printer.main([])
reader.main()
