"""KPIs of a camera set over a period (online, integrity, recording, networking, HD, format) in SQL, against a plan."""
