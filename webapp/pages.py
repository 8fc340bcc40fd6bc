"""The live page, and the chart library it uses, served locally (no CDN)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, send_from_directory

from common.settings import REPO_ROOT
from webapp.params import WINDOW_SIZES

bp = Blueprint("pages", __name__)

CHART_LIBRARY = REPO_ROOT / "webapp" / "node_modules" / "lightweight-charts" / "dist"
CHART_FILE = "lightweight-charts.standalone.production.js"


@bp.get("/")
def index():
    """The page; its script polls the JSON API."""
    return render_template(
        "index.html",
        poll_seconds=current_app.config["POLL_SECONDS"],
        stale_seconds=current_app.config["STALE_SECONDS"],
        window_sizes=list(WINDOW_SIZES),
    )


@bp.get("/vendor/lightweight-charts.js")
def chart_library():
    """TradingView's lightweight-charts, installed by `make setup` with npm."""
    if not (CHART_LIBRARY / CHART_FILE).is_file():
        abort(404, "the chart library is not installed: run make setup")
    return send_from_directory(CHART_LIBRARY, CHART_FILE, mimetype="text/javascript", max_age=3600)
