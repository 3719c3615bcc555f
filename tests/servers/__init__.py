"""Real servers on loopback for the store tests: pytest plugins that tests/conftest.py loads."""
