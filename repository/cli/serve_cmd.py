"""khoso serve: HTTP API, officers' pages and the scheduler."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(ctx: typer.Context, host: str = typer.Option("127.0.0.1", "--host"),
              port: int = typer.Option(8000, "--port"),
              scheduler: bool = typer.Option(True, "--scheduler/--no-scheduler",
                                             help="Run the schedules in this process (one "
                                                  "scheduler is active per catalog).")
              ) -> None:
        """Serve the HTTP API and the preservation officers' pages; run the schedules."""
        import uvicorn

        from repository.api.app import create_app
        from repository.config import load_settings

        settings = load_settings(ctx.obj.get("home"))
        settings.require_initialised()
        uvicorn.run(create_app(settings, background=scheduler), host=host, port=port,
                    log_level="info")
