"""The floor under the ceiling (`make bench`): a WSGI application with no framework at all, served by the same
gunicorn as the site. What one request costs the server and the load tool before any Python of ours runs."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
