"""``python -m local_rerank`` runs the command line."""

from local_rerank.cli import main

main()
