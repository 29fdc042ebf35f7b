"""``gscc view``: a WebGL2 player for static and dynamic splats, served to the browser.

The server side is numpy and the standard library only (no torch): :mod:`.scene_data` turns a
file into what the page loads, :mod:`.server` serves the page and the scene, :mod:`.export`
writes both as static files. The page itself lives in ``web/`` (plain files, no build step).
"""

from .scene_data import PlayerScene, load_scene, pack

__all__ = ["PlayerScene", "load_scene", "pack"]
