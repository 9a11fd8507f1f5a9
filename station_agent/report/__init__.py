"""The daily reconciliation report: :mod:`.model` computes it, :mod:`.render` prints it."""
