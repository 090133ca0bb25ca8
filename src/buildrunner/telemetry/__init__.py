"""Telemetry: typed events, the batched collector, metrics, alerts, performance and exports.

Import the submodules you need (`buildrunner.telemetry.events`, `.collector`, ...); this package
file stays empty so that importing one piece never drags in the others.
"""
