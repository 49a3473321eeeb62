"""Where argument types come from besides annotations: what runs observed (observed.py).

(The learned predictor of issue #5 will live here too.)
"""
