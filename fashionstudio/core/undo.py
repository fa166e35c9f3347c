"""UndoStack: a bounded undo history with redo, for any kind of state (a pose, a tab's input and result)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class UndoStack(Generic[T]):
    """States to go back to (newest last), at most ``limit``; a new push ends the branch that redo would walk."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"an undo history holds at least one state, got a limit of {limit}")
        self.limit = limit
        self._undo: list[T] = []
        self._redo: list[T] = []

    def __len__(self) -> int:
        return len(self._undo)

    def push(self, state: T) -> None:
        """Remember ``state`` (the one before a change); the oldest goes when the history is full."""
        self._undo.append(state)
        del self._undo[:-self.limit]
        self._redo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self, current: T) -> T | None:
        """The state to go back to (``current`` becomes redoable), or None when there is none."""
        if not self._undo:
            return None
        self._redo.append(current)
        return self._undo.pop()

    def redo(self, current: T) -> T | None:
        """The state undone last (``current`` becomes undoable again), or None when there is none."""
        if not self._redo:
            return None
        self._undo.append(current)
        return self._redo.pop()

    def pop(self) -> T | None:
        """Take the newest state without keeping anything to redo (a history that offers no redo)."""
        return self._undo.pop() if self._undo else None

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    def transform(self, change: Callable[[T], T]) -> None:
        """Apply ``change`` to every remembered state (e.g. refit poses into a new frame)."""
        self._undo = [change(s) for s in self._undo]
        self._redo = [change(s) for s in self._redo]
