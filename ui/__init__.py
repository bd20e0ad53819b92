"""The booth window (Qt). ``booth`` never imports this package; this package drives ``booth.engine``.

The engine is imported here, before any module of this package imports PySide6: importing PySide6 replaces
``__import__`` with a hook that reads the source of every module imported after it (its check for
``from __feature__ import ...`` calls ``inspect.getsource``, and ``linecache`` keeps every file). For the
engine's stack (SQLAlchemy, httpx, pydantic, cryptography) that was about 17 MB of memory and 0.1 s of start
for nothing; modules imported before PySide6 are never read.
"""

import booth.engine  # noqa: F401  (first, before PySide6: see above)
