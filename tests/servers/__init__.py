"""Real servers on loopback for the store and Spark tests: pytest plugins that tests/conftest.py loads."""
