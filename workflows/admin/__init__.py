"""The kernel's admin pages, registered on import (Django imports ``workflows.admin``)."""

from workflows.admin import audit, runs, workflows

__all__ = ["audit", "runs", "workflows"]
