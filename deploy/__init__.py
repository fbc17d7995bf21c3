"""Deployment files (gunicorn, systemd, nginx, environment) and the stack test (`make stack-test`)."""
