"""Date formats per language (FORMAT_MODULE_PATH); templates name them, e.g. `|date:"DATE_FORMAT"`."""
