"""The console's views of the registry with each camera's health state: the resource tree and the camera map.

They live in health, not registry, because a camera's state (online / offline / fault) is the health plane's
verdict (its latest picture diagnosis); registry is upstream of health and does not read its tables.
"""
