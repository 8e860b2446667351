"""The web layer: FastAPI app factory, JSON API and server-rendered pages."""

from paperfeed.web.app import create_app

__all__ = ["create_app"]
