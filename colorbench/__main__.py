"""``python -m colorbench`` is the same as the ``colorbench`` command."""

from colorbench.cli import main

if __name__ == "__main__":
    main()
