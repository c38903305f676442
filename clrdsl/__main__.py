"""``python -m clrdsl``: the ``clrdsl`` command line."""

from clrdsl.tools.cli import main

if __name__ == "__main__":
    main(prog_name="clrdsl")
