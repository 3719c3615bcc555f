"""Pytest plugins that start real servers on loopback for the tests (tests/conftest.py loads them)."""
