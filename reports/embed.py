"""Figures and images as ``data:`` URIs, so the report is one file that works offline.

Each chart is its own SVG document inside an ``<img>``: ids inside one SVG cannot clash with
another's, and the page's CSS cannot restyle a chart. Text stays text (``svg.fonttype: none``)
and the output is deterministic (fixed hash salt, no date), so a rerun gives the same bytes.
"""

from __future__ import annotations

import base64
import io

import matplotlib as mpl
import numpy as np
from matplotlib import image as mpl_image
from matplotlib.figure import Figure

SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "ferbench"}


def data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def svg_uri(fig: Figure) -> str:
    """The figure as an SVG ``data:`` URI (the figure is not reused afterwards)."""
    buffer = io.BytesIO()
    with mpl.rc_context(SVG_RC):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return data_uri(buffer.getvalue(), "image/svg+xml")


def png_uri(image: np.ndarray) -> str:
    """A grayscale uint8 image as a PNG ``data:`` URI, pixel for pixel (the page scales it)."""
    buffer = io.BytesIO()
    mpl_image.imsave(buffer, image, cmap="gray", vmin=0, vmax=255, format="png")
    return data_uri(buffer.getvalue(), "image/png")
