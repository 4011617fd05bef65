"""Progress bars for long runs: :mod:`tqdm.auto` behind the package's ``progress(done, total)`` callbacks.

The integrators (:func:`subriemann.integrate.integrate`), the Frobenius test
and the surveys report progress by calling ``progress(done, total)`` with the
*absolute* amount done (a flow time s, a number of points or tasks), whereas
tqdm counts increments.  :class:`ProgressBar` adapts one to the other;
``tqdm.auto`` draws a widget in a notebook and a text bar on a terminal.  A
bar appears only after ``delay`` seconds (short work stays silent) and only
when its stream is a terminal (logs and pipes never receive carriage returns),
unless forced on or off.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["ProgressBar", "progress_bar"]


class ProgressBar:
    """A tqdm bar usable as a ``progress(done, total)`` callback and as a context manager.

    Parameters
    ----------
    label : str
        Text in front of the bar (tqdm's ``desc``).
    total : float, optional
        Amount of work; may also be given with each update (the callback
        convention of :func:`subriemann.integrate.integrate` and of the surveys).
    stream : file-like, optional
        Where to draw; default ``sys.stderr``.
    enabled : bool, optional
        Force the bar on or off.  Default: on only when ``stream`` is a TTY
        (tqdm's ``disable=None``) — or in a notebook, where ``tqdm.auto`` draws a widget.
    delay : float
        Seconds of work before the bar first appears: short tasks stay silent.
    min_interval : float
        Minimum seconds between redraws (tqdm's ``mininterval``).
    **tqdm_options
        Passed to :class:`tqdm.auto.tqdm` (e.g. ``unit``, ``ncols``).

    Examples
    --------
    >>> with ProgressBar("survey", enabled=False) as bar:
    ...     for i in range(10):
    ...         bar(i + 1, 10)
    """

    def __init__(
        self,
        label: str = "",
        total: float | None = None,
        stream: IO[str] | None = None,
        enabled: bool | None = None,
        delay: float = 1.0,
        min_interval: float = 0.1,
        **tqdm_options: Any,
    ):
        from tqdm.auto import tqdm

        stream = sys.stderr if stream is None else stream
        self.label = label
        self._bar = tqdm(
            total=total,
            desc=label,
            file=stream,
            disable=None if enabled is None else not enabled,
            delay=float(delay),
            mininterval=float(min_interval),
            dynamic_ncols=True,
            leave=True,
            **tqdm_options,
        )
        # tqdm does not record the counts when disabled: keep them here for every bar
        self.done: float = 0
        self.total = None if total is None else _count(total)
        self._start = time.monotonic()

    @property
    def enabled(self) -> bool:
        """Whether the bar draws (tqdm decided from the stream, or ``enabled`` forced it)."""
        return not self._bar.disable

    @property
    def fraction(self) -> float | None:
        """``done / total`` clipped to [0, 1], or None while the total is unknown."""
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)

    def __call__(self, done: float, total: float | None = None) -> None:
        """Record progress ``done`` out of ``total`` (the callback convention)."""
        self.update(done, total)

    def update(self, done: float, total: float | None = None) -> None:
        """Set the absolute progress ``done`` (and the total, if given)."""
        if total is not None and _count(total) != self.total:
            self.total = _count(total)
            self._bar.total = self.total
        done = _count(done)
        if self.total is not None:  # an integrator may step past its end: show a full bar
            done = min(max(done, 0), self.total)
            # a fraction below 1e-200 shows as 0 % anyway, and tqdm's remaining-time estimate
            # total/rate = total·elapsed/done would overflow to inf (a subnormal flow time)
            if 0 < done < 1e-200 * self.total:
                done = 0
        # tqdm counts increments; a callback reports where the work is (maybe a flow time)
        self._bar.update(done - self.done)
        self.done = done

    def render(self) -> str:
        """The bar's current text, as tqdm would draw it (e.g. ``survey:  40%|####  | 4/10``)."""
        # format_meter is tqdm's static formatter: it also renders a disabled bar
        return self._bar.format_meter(
            n=self.done, total=self.total, elapsed=time.monotonic() - self._start, prefix=self.label
        )

    def close(self) -> None:
        """Finish the bar (a bar that never appeared, because of ``delay``, prints nothing)."""
        self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _count(value: float) -> float:
    """``value`` as an int when it is integral (tqdm then shows ``4/10``, not ``4.0/10.0``)."""
    value = float(value)
    return int(value) if value.is_integer() else value


def progress_bar(
    label: str, quiet: bool = False, stream: IO[str] | None = None, **kwargs: Any
) -> ProgressBar:
    """A :class:`ProgressBar` on stderr, switched off by ``quiet`` (the CLI's ``--quiet``)."""
    return ProgressBar(label, stream=stream, enabled=False if quiet else None, **kwargs)
