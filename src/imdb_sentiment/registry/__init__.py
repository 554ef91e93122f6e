"""The registered raw-text model: its pyfunc, the champion gate, prediction."""
