"""A real single-node OpenStack Swift on 127.0.0.1 for local development and tests."""
