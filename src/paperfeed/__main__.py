"""`python -m paperfeed` runs the command line."""

from paperfeed.cli import main

main()
