"""Blueprints of the web app: thin views that parse, call a service and render."""
