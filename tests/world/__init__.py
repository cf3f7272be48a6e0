"""The embedded AWS world: moto on 127.0.0.1 plus a small realism layer (DESIGN §4).

    python -m tests.world serve [--port 0] [--endpoint-file PATH]
    python -m tests.world seed --endpoint URL [--lag-seconds 5] [--out FILE]

In Python: ``start_world()`` runs it in-process; ``World(endpoint)`` drives a running one.
"""

from .control import World
from .server import WorldServer, start_world

__all__ = ["World", "WorldServer", "start_world"]
