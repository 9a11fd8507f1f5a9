"""Run every benchmark; each prints one JSON object per line."""

from bench import ledger

ledger.main()
