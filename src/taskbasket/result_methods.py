"""The Basket's result methods: wait for a task's result, from any process (the waiting
itself is :mod:`taskbasket.waiting`'s)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from taskbasket.errors import ConfigurationError
from taskbasket.results import DEFAULT_MAX_RESULT_BYTES, decode_result
from taskbasket.waiting import FinishSignal, check_results, wait_final, wait_final_async

if TYPE_CHECKING:
    from taskbasket.basket import Basket


def check_byte_limit(name: str, value: int) -> int:
    """``value`` if it is a usable limit of bytes (``max_payload_bytes`` and the like)."""
    if value < 1:
        raise ConfigurationError(f"{name} must be >= 1")
    return value


class Results:
    """The Basket's ``result`` and ``result_async`` (mixed into :class:`taskbasket.Basket`)."""

    _finish_signal: FinishSignal | None = None
    _finish_lock = threading.Lock()
    inline_results: dict[str, str | None] | None = None
    """The encoded results of tasks run in inline mode (``taskbasket.testing.inline``),
    which never reach the store, by id."""

    def _signal(self) -> FinishSignal:
        basket: Basket = self  # type: ignore[assignment]
        backend = basket.backend
        check_results(backend, basket.url)
        with Results._finish_lock:
            signal = self._finish_signal
            if signal is None or signal.backend is not backend:
                if signal is not None:
                    signal.close()
                signal = self._finish_signal = FinishSignal(backend)
        return signal

    def result(self, task_id: str, timeout: float | None = None) -> Any:
        """Wait for the task ``task_id`` to finish; its result once it succeeded.

        Raises TaskFailed (``task_id``, ``state``, ``last_error``) if it ended failed or
        cancelled, ResultTimeout (a TimeoutError) after ``timeout`` seconds (None: wait
        for ever), LookupError for an unknown id, and UnsupportedOperationError on a
        message bus (it keeps no results). Waiting is pushed where the store can push.
        """
        if self.inline_results is not None and str(task_id) in self.inline_results:
            return decode_result(str(task_id), self.inline_results[str(task_id)])
        signal = self._signal()
        return wait_final(signal.backend, signal, str(task_id), timeout, self._typed_result)

    async def result_async(self, task_id: str, timeout: float | None = None) -> Any:
        """``result`` without blocking the event loop."""
        if self.inline_results is not None and str(task_id) in self.inline_results:
            return decode_result(str(task_id), self.inline_results[str(task_id)])
        signal = self._signal()
        return await wait_final_async(signal.backend, signal, str(task_id), timeout,
                                      self._typed_result)

    def _typed_result(self, name: str, value: Any) -> Any:
        """``value`` as the return annotation of this basket's handler ``name`` says (a
        dataclass, a datetime, ...); as stored (JSON) when this basket has no such handler."""
        basket: Basket = self  # type: ignore[assignment]
        definition = basket.registry.get(name)
        if definition is None:
            return value
        from taskbasket.typed import from_wire_result, plan_for

        return from_wire_result(plan_for(definition.func), value)

    def close_results(self) -> None:
        """Stop the listener of finished tasks (``Basket.close`` calls this)."""
        with Results._finish_lock:
            signal, self._finish_signal = self._finish_signal, None
        if signal is not None:
            signal.close()


__all__ = ["DEFAULT_MAX_RESULT_BYTES", "Results", "check_byte_limit"]
