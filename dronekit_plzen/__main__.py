"""``python -m dronekit_plzen`` runs the CLI."""

from dronekit_plzen.cli.main import main

main()
