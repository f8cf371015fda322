"""HTTP API of Tradewind (FastAPI). Build the app with :func:`tradewind.observe.api.app.create_app`."""
