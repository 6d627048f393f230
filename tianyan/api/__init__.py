"""The HTTP API (FastAPI, /api/v1): thin routers that validate, call one service and map the result."""
