"""moto's server, handling one request at a time in its backends.

`moto_server` runs requests on threads without locks, so a DynamoDB conditional write is not
atomic there: two concurrent `UpdateItem` calls with the same condition can both succeed, which
real DynamoDB never allows. The closed-loop tests race invocations against each other on the
journal's lease, so the harness serves the emulator through this wrapper: connections are still
handled on threads, but each request runs through moto's backends alone.

Usage: python moto_serialized.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole body is produced inside the lock; sending it is not.
            return list(app(environ, start_response))

    run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
