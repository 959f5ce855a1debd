"""The HTTP side of khoso: FastAPI app (API under /api, officers' pages at /)."""
