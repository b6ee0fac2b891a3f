"""``python -m taskbasket`` runs the command line."""

from taskbasket.cli import main

main()
