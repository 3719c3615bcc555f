"""IR to Python: the module generator, compile_condition and its runtime."""
