"""``python -m fastws.bench``: the same as ``fastws bench``."""

from fastws.bench._cli import main

raise SystemExit(main())
