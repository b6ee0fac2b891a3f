"""`make compare`: taskbasket and its peers side by side (see __main__.py)."""
