"""Settings from the environment: shared parsers, storage providers, security, the service."""
