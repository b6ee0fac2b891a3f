"""No models: taskbasket's tables are its own, created by its migrations (``manage.py
migrate`` runs them through the post_migrate signal, which Django sends only to apps that
have a models module, hence this one)."""
