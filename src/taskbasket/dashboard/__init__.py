"""The web dashboard: overview, task list, task detail and operator actions.

``create_app(basket, token=...)`` returns a Starlette application (without a token or
basic auth it needs ``allow_unauthenticated=True`` and answers this machine's clients
only); ``serve(basket)`` runs it with uvicorn on 127.0.0.1:8080. It uses only the
public ``Basket`` API, so it works on every store. Starlette, uvicorn and Jinja2 are
imported on first use, so this package imports without them; ``pip install
'taskbasket[dashboard]'`` brings them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from taskbasket.errors import ConfigurationError

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from taskbasket.basket import Basket

INSTALL_HINT = "pip install 'taskbasket[dashboard]'"

__all__ = ["INSTALL_HINT", "create_app", "serve"]


def _app_module() -> ModuleType:
    try:
        from taskbasket.dashboard import app
    except ImportError as exc:
        raise ConfigurationError(
            f"the dashboard needs Starlette, uvicorn and Jinja2 ({exc.name or exc} is "
            f"missing): {INSTALL_HINT}"
        ) from exc
    return app


def create_app(
    basket: Basket,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    allow_unauthenticated: bool = False,
    sample_interval: float = 5.0,
    history: int = 720,
    refresh_seconds: float = 3.0,
) -> Starlette:
    """The dashboard as a Starlette app; see :func:`taskbasket.dashboard.app.create_app`.

    Without ``token`` or ``username``/``password`` it refuses to start unless
    ``allow_unauthenticated=True``, and then answers only clients on this machine.
    """
    app: Starlette = _app_module().create_app(
        basket, token=token, username=username, password=password,
        allowed_hosts=allowed_hosts, allow_unauthenticated=allow_unauthenticated,
        sample_interval=sample_interval, history=history, refresh_seconds=refresh_seconds,
    )
    return app


def serve(
    basket: Basket,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    log_level: str = "info",
    **app_options: Any,
) -> None:
    """Serve the dashboard with uvicorn until interrupted.

    Binding a host other than loopback is refused unless ``token`` or
    ``username``/``password`` is given: the dashboard can retry, cancel and delete tasks.
    """
    _app_module().serve(basket, host, port, token, username=username, password=password,
                        log_level=log_level, **app_options)
