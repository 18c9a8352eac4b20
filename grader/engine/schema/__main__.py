"""`python -m grader.engine.schema [--write]`: print or write exercises/schema.json."""

from __future__ import annotations

from grader.engine.schema.publish import main

raise SystemExit(main())
