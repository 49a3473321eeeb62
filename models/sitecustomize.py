"""Start the type recorder in every Python process that has models/ on PYTHONPATH (see recorder.py)."""

try:
    import recorder

    recorder.start()
except Exception:  # noqa: BLE001, S110 - a broken recorder must never stop the interpreter from starting
    pass
