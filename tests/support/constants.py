"""Values the fixtures and tests share: the API token of the test servers and an allowed origin."""

TOKEN = "test-token-0123456789abcdef"
ALLOWED_ORIGIN = "http://allowed.example:8001"
