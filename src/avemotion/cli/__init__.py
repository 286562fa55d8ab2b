"""Command line: thin typer commands over the library. Each module here has `register(app)`."""
