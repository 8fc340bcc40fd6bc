"""The live page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from webapp.params import WINDOW_SIZES

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """The page; its script polls the JSON API."""
    return render_template(
        "index.html", poll_seconds=current_app.config["POLL_SECONDS"], window_sizes=list(WINDOW_SIZES)
    )
