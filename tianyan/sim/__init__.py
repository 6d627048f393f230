"""Simulators standing in for hardware we cannot have, and generated demo data; imported only by tests and the demo."""
