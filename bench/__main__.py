"""Run every benchmark; each prints one JSON object per line.

Options (``--dir``, ``--entries``, ``--commits``) go to the ledger benchmarks;
``python -m bench.printer``, ``bench.reader`` and ``bench.agent`` run the others alone.
"""

from bench import agent, ledger, printer, reader

ledger.main()
printer.main([])
reader.main()
agent.main([])
