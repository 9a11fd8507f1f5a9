"""The office console (DESIGN §9): a local web console for office staff and
``/metrics`` for whoever monitors the fleet, served by the daemon.

:mod:`.accounts` keeps the staff accounts (salted scrypt hashes in an
owner-only file), :mod:`.sessions` the logins, CSRF tokens and the failed-login
throttle, :mod:`.app` answers requests (routing, security checks, pages and
forms) without knowing how they arrived, :mod:`.server` serves it over HTTP,
:mod:`.metrics` writes the Prometheus text exposition. The console reaches the
station only through a :class:`~station_agent.console.app.Backend`: the API's
operations, so a form and ``station-agent blanks receive`` take the same path.
"""
