"""Video quality diagnosis (VQD): pure image checks that judge one camera's picture from a burst of frames."""
