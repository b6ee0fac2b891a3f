"""``file://`` for the conformance suite: a fresh file in a temporary folder per test."""

from tests.stores.buses import FileFactory

FACTORY = FileFactory()
