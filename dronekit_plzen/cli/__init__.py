"""Command-line interface: ``dronekit-plzen`` (alias ``dkp``)."""
