"""``python -m hush SOURCE OBJECT``: the module process that ``hush call`` starts."""

import sys

from ._module import main

sys.exit(main(sys.argv))
