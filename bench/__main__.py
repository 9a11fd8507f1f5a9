"""Run every benchmark; each prints one JSON object per line.

Options (``--dir``, ``--entries``, ``--commits``) go to the ledger benchmarks;
``python -m bench.printer``, ``bench.reader``, ``bench.agent``, ``bench.uplink``,
``bench.cli``, ``bench.spooler`` and ``bench.console`` run the others alone.
"""

from bench import agent, cli, console, ledger, printer, reader, spooler, uplink

ledger.main()
printer.main([])
reader.main()
agent.main([])
uplink.main([])
cli.main([])
spooler.main([])
console.main([])
