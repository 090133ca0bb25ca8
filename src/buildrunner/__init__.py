"""BuildRunner: run software builds made of AI and shell tasks."""

__version__ = "0.1.0"
