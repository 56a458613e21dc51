"""The end-to-end demonstration (``dronekit-plzen demo``)."""
