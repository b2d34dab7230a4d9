"""The floor under every app: reading input safely (bounded JSON and YAML, strict fields),
environment values, request-relative links and the security headers. It imports no app."""
