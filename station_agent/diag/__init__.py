"""``station-agent diag``: a technician's checks of the whole station.

:mod:`.model` is the result shape, :mod:`.runner` runs groups of checks
concurrently, each with its own timeout; :mod:`.local` checks the config,
state directory, ledger, clock, daemon, faults and stock; :mod:`.devices`
the printers, PC/SC and readers; :mod:`.links` the central server's network
phases and the uplink; :mod:`.plan` puts them together for one station.
"""
