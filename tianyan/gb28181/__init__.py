"""GB/T 28181 signaling: the SIP core, MANSCDP bodies, SDP, and the platform side that devices register to."""
