"""``python -m durable_host``: see :mod:`durable_host.cli`."""

from durable_host.cli import main

raise SystemExit(main())
