"""The booth window (Qt). ``booth`` never imports this package; this package drives ``booth.engine``."""
