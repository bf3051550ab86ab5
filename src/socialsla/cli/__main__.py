"""`python -m socialsla.cli`: the `socialsla` command, for a checkout without the console script."""

import sys

from socialsla.cli.main import main

sys.exit(main())
