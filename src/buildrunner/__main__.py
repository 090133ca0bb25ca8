"""`python -m buildrunner` is the same as `br`."""

from buildrunner.cli.main import main

main()
