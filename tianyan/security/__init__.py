"""Security: accounts, roles and scopes, passwords and second factors, sessions, API keys, the audit chain."""
