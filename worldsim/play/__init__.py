"""`worldsim play`: the world model in the browser. Type a scene or load an example, watch it unfold, push the
agent ball with the arrow keys, branch four futures, download the clip.

    from worldsim import play
    engine = play.Engine(ws.load("default"), play.PlayConfig())
    play.serve(engine)                  # foreground, prints the URL
    with play.start(engine) as srv:     # background thread (tests, notebooks): srv.url
        ...
"""

from worldsim.play.config import PlayConfig
from worldsim.play.engine import Engine
from worldsim.play.server import PlayServer, Running, serve, start

__all__ = ["PlayConfig", "Engine", "PlayServer", "Running", "serve", "start"]
