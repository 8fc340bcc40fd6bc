"""`python -m webapp`: serve the live page and the JSON API (granian, one worker process per core;
Flask's development server with --debug)."""

from __future__ import annotations

import argparse
import logging
import sys

from common import flags
from common.entrypoint import configure_logging
from common.servers import ServerUnreachable, require_postgres
from common.settings import SettingsError, load_settings, mask_url_password
from webapp import create_app
from webapp.server import check_port_free, default_workers, serve

log = logging.getLogger("webapp")


def parse_args(argv) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m webapp", description=__doc__)
    parser.add_argument("--host", type=flags.host, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=flags.port, default=5000, help="port (default 5000)")
    parser.add_argument(
        "--workers", type=flags.positive_int, default=default_workers(), help="worker processes (default: one per core)"
    )
    parser.add_argument("--debug", action="store_true", help="Flask's development server with reloading")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Entry point: exit 0 when stopped, 1 without Postgres or when the port is taken, 2 on bad configuration."""
    args = parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
        app = create_app()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    # create_app reads with the read-only role's URL when one is set
    variable = "WEB_DATABASE_URL" if settings.web_database_url else "DATABASE_URL"
    try:
        require_postgres(app.config["DATABASE_URL"], variable)
    except ServerUnreachable as exc:
        log.error("%s", exc)
        return 1
    log.info("reading %s", mask_url_password(app.config["DATABASE_URL"]))
    if args.debug:
        log.info("serving on http://%s:%d/", args.host, args.port)
        app.run(host=args.host, port=args.port, debug=True)
        return 0
    try:
        check_port_free(args.host, args.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc.strerror or exc)
        return 1
    log.info(
        "serving on http://%s:%d/ with %d worker process%s",
        args.host,
        args.port,
        args.workers,
        "" if args.workers == 1 else "es",
    )
    try:
        serve(app, args.host, args.port, args.workers)  # SIGTERM / Ctrl-C: requests in flight finish
    except SystemExit as exc:  # granian's exit when a worker died
        code = exc.code if isinstance(exc.code, int) else 1
        log.error("stopped with exit status %d", code)
        return code
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
