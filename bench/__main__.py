"""Run every benchmark; each prints one JSON object per line.

Options (``--dir``, ``--entries``, ``--commits``) go to the ledger benchmarks;
``python -m bench.printer``, ``bench.reader``, ``bench.agent``, ``bench.uplink``,
``bench.cli``, ``bench.spooler``, ``bench.console``, ``bench.report`` and
``bench.central`` run the others alone.
"""

from bench import agent, central, cli, console, ledger, printer, reader, report, spooler, uplink

ledger.main()
printer.main([])
reader.main()
agent.main([])
uplink.main([])
cli.main([])
spooler.main([])
console.main([])
report.main([])
central.main([])
