"""The registry: administrative regions, organisations, devices and cameras with GB/T 28181 IDs."""
