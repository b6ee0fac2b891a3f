"""Integrations with web frameworks: ``taskbasket.contrib.django`` (a Django app) and
``taskbasket.contrib.fastapi`` (the dashboard behind a FastAPI app's own auth). Each
imports its framework, so install the matching extra: ``taskbasket[django]`` or
``taskbasket[fastapi]``."""
