"""The media plane: RTP and MPEG-PS (pure framing code), ingest, recording and playback."""
