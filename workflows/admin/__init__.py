"""The kernel's admin pages, registered on import (Django imports ``workflows.admin``)."""

from workflows.admin import runs, workflows

__all__ = ["runs", "workflows"]
