"""Tests that drive the web pages in a real Chromium (Playwright), against the real app on a loopback port."""
