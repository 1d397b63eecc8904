"""What people read: console progress (``Reporter``), leaderboards, significance tests, the
HTML report, contact sheets and training curves."""

from colorbench.reporting.console import Reporter

__all__ = ["Reporter"]
