"""`python -m webapp`: serve the live page and the JSON API (waitress; Flask's server with --debug)."""

from __future__ import annotations

import argparse
import logging
import sys

from common.settings import SettingsError, mask_url_password
from webapp import create_app

log = logging.getLogger("webapp")


def main(argv=None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m webapp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    parser.add_argument("--debug", action="store_true", help="Flask's development server with reloading")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    log.info("reading %s", mask_url_password(app.config["DATABASE_URL"]))
    log.info("serving on http://%s:%d/", args.host, args.port)
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True)
    else:
        from waitress import serve

        serve(app, host=args.host, port=args.port, threads=8, ident=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
