"""Pure building blocks every domain needs (GB IDs, errors, clock); imports nothing else of Tianyan."""
