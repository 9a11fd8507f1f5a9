"""The local API: JSON lines over a Unix socket in the state directory (docs/API.md)."""
