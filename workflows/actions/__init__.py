"""Action executors: one class per action type, named in ``registry.ACTION_TYPES``."""
