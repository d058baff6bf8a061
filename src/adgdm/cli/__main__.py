"""``python -m adgdm.cli``: the ``adgdm`` command line."""
from . import main

main()
