"""Where the state directory and the config file are (DESIGN §5, §6b).

State directory: ``--state-dir`` (before the subcommand), else
``$STATION_AGENT_STATE``, else ``[station] state_dir`` of the config file
(relative to the config file's directory when not absolute), else a
per-user default: ``/var/lib/station-agent`` for root,
``$XDG_STATE_HOME/station-agent`` (``~/.local/state/station-agent``) for
anyone else. The CLI and the daemon resolve it the same way.

Config file: ``--config``, else ``$STATION_AGENT_CONFIG``, else
``/etc/station-agent/station.toml`` (used only if it exists).
"""

from __future__ import annotations

import os
from pathlib import Path

from station_agent.errors import BadInput

DEFAULT_CONFIG = Path("/etc/station-agent/station.toml")
SYSTEM_STATE_DIR = Path("/var/lib/station-agent")


def config_path(explicit: str | None) -> tuple[Path, bool]:
    """The config file to read, and whether the user named it (so it must exist)."""
    if explicit:
        return Path(explicit), True
    env = os.environ.get("STATION_AGENT_CONFIG")
    if env:
        return Path(env), True
    return DEFAULT_CONFIG, False


def default_state_dir() -> Path:
    """The per-user default state directory."""
    if os.geteuid() == 0:
        return SYSTEM_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "station-agent"


def _state_dir_from_config(path: Path, required: bool) -> Path | None:
    if not path.exists() and not required:
        return None
    from station_agent.config import read_toml

    data = read_toml(path)
    station = data.get("station", {})
    if not isinstance(station, dict):
        raise BadInput(f"{path}: [station] must be a table")
    value = station.get("state_dir")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadInput(f"{path}: [station] state_dir: expected a directory path such as "
                       f"\"/var/lib/station-agent\", got {value!r}")
    # A relative path is relative to the config file, never to wherever the
    # command happens to run (as the [uplink] file paths are).
    return (path.parent / value).resolve()


def resolve_state_dir(explicit: str | None, config: str | None = None) -> Path:
    """Resolve the state directory in the documented order."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("STATION_AGENT_STATE")
    if env:
        return Path(env)
    path, required = config_path(config)
    from_config = _state_dir_from_config(path, required)
    if from_config is not None:
        return from_config
    return default_state_dir()
