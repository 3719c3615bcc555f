"""IR to Python: the module generator and its line map (linemap.py), compile_condition and its runtime."""
