"""Reusable fakes that behave like real external services (HTTP servers, CLIs) for tests."""
