"""The `tianyan` command line."""
