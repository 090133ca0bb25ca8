"""Executors: what runs one task attempt (command, agent, Claude Code)."""
