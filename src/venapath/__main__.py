"""`python -m venapath ...` and `spark-submit .../venapath/__main__.py ...`: the `venapath` CLI.

spark-submit runs a Python application only from a file whose name ends in `.py` (anything
else it loads as a JAR), and the installed `venapath` script has no suffix; this file is the
one to hand it. Run as a file, Python puts this file's folder, the package itself, first on
`sys.path`; it is taken off again so that the package's modules (`settings`, `api`, `web`...)
cannot shadow top-level modules of the same name.
"""

import sys
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

from venapath.cli.main import main

if __name__ == "__main__":
    main()
