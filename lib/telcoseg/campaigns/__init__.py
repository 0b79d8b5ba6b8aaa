"""Campaign targeting by micro segment (``targeting``) and A/B analysis (``ab``)."""
