"""Helpers for tests and scripts that use taskbasket; importable without pytest."""
