"""Reading TensorBoard event files back in tests, with tensorboardX's own protos (no tensorboard install needed)."""

import struct
from pathlib import Path

from tensorboardX.proto.event_pb2 import Event


def read_events(logdir) -> dict[str, list[tuple[int, object]]]:
    """{tag: [(step, value)]} of every summary under logdir: a float for a scalar, the Summary.Image for an image.

    An event file is a sequence of TFRecords: uint64 length, uint32 CRC of it, the serialized Event, uint32 CRC."""
    out: dict[str, list[tuple[int, object]]] = {}
    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        data, at = path.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack_from("<Q", data, at)
            event = Event.FromString(data[at + 12: at + 12 + length])
            at += 12 + length + 4
            for v in event.summary.value:
                kind = v.WhichOneof("value")
                out.setdefault(v.tag, []).append((event.step, v.simple_value if kind == "simple_value" else v.image))
    return out
