#!/bin/sh
# Run a management command on a server as the services do: same user, same environment file, production settings.
#   sudo /srv/volunteer-platform/deploy/manage.sh migrate --no-input
# (manage.py alone would use the development settings: DEBUG on.)
#   ENV_FILE=/etc/volunteer-platform/drill.env …   another environment file (the restore drill, docs/deploy.md)
#   MANAGE_USER=root …                               commands that write into the root-owned checkout
#                                                    (compiletranslations)
set -eu
cd "$(dirname "$0")/.."
exec sudo -u "${MANAGE_USER:-volunteer}" sh -c '
  set -a; . "$0"; set +a
  export DJANGO_SETTINGS_MODULE=volunteer_platform.settings
  exec .venv/bin/python manage.py "$@"' "${ENV_FILE:-/etc/volunteer-platform/env}" "$@"
