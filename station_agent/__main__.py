"""``python -m station_agent`` runs the CLI."""

from station_agent.cli.main import main

raise SystemExit(main())
