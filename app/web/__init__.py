"""The JSON API on Flask: blueprints, request parsing, problem details, rate limits, OpenAPI."""
