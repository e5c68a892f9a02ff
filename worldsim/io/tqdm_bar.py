"""The progress bar of every command and notebook: tqdm's notebook widget where ipywidgets can draw it, else the
plain text bar. `tqdm.auto` picks the widget in any Jupyter kernel and, without ipywidgets, warns "IProgress not
found" on import (the first thing a notebook printed); the text bar prints fine in a notebook.

    from worldsim.io.tqdm_bar import tqdm
"""

from __future__ import annotations

import importlib.util


def bar_class() -> type:
    """tqdm.auto's choice where ipywidgets is installed, else tqdm's text bar (no import of tqdm.auto, whose
    import is what warns)."""
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm as text_bar

        return text_bar
    from tqdm.auto import tqdm as auto_bar

    return auto_bar


tqdm = bar_class()
