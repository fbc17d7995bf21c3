#!/bin/sh
# Run a management command on a server as the services do: same user, same environment file, production settings.
#   sudo /srv/volunteer-platform/deploy/manage.sh migrate --no-input
# (manage.py alone would use the development settings: DEBUG on.)
set -eu
cd "$(dirname "$0")/.."
exec sudo -u volunteer sh -c '
  set -a; . /etc/volunteer-platform/env; set +a
  export DJANGO_SETTINGS_MODULE=volunteer_platform.settings
  exec .venv/bin/python manage.py "$@"' manage.py "$@"
