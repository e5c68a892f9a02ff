"""Pictures of clips: contact sheets with tracked trajectories, videos side by side.

    sheet = ws.viz.contact_sheet(ep.frames, every=4, tracks=ws.probes.track(ep.frames).pos,
                                 colours=ws.worlds.COLOURS, labels=ep.captions)
    ws.io.write_image("sheet.png", sheet)
"""

from worldsim.viz.compose import grid, side_by_side, upscale
from worldsim.viz.sheet import contact_sheet

__all__ = ["contact_sheet", "side_by_side", "grid", "upscale"]
