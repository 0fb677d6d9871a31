"""MarginLab's Qt application. Everything it shows is computed by ``core``."""
