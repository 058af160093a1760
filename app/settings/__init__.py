"""Settings from the environment: value parsers, the source reading them, storage providers,
security, the service; one pydantic-settings model per subject."""
