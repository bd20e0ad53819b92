"""Booth: the cashier-booth application for the exit lanes of parking lots.

This package runs without any GUI and never imports PySide6 or ``ui`` (an import-linter contract checks it).
"""

__version__ = "0.1.0"
