"""The pipeline (parse, check, generate), the compile cache and load()."""
