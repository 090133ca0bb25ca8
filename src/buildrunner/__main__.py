"""`python -m buildrunner` is the same as `br`."""

from buildrunner.cli.entry import main

main()
