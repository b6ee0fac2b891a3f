"""``python -m taskbasket.cli`` runs the command line, as ``python -m taskbasket`` does."""

from taskbasket.cli import main

main()
