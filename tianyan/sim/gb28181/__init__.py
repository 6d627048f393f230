"""A GB/T 28181 device simulator that speaks only the protocol: IPCs, NVRs and vehicle cameras over SIP and RTP."""
