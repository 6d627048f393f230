"""A simulated RTSP-only camera: RTSP/1.0 signalling, RTP payload formats for H.264/H.265, shared live encoders."""

from tianyan.sim.rtsp.server import RtspCamera, default_paths
from tianyan.sim.rtsp.source import CameraPath, frame_number

__all__ = ["CameraPath", "RtspCamera", "default_paths", "frame_number"]
