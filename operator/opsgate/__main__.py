"""``python -m opsgate`` runs the CLI."""

from opsgate.cli import main

main()
