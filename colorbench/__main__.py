"""``python -m colorbench`` = the ``colorbench`` command."""

from colorbench.cli import main

main()
