"""Serializing an edited .tflite (the flatbuffer object API's ModelT) back to bytes.

The generated Python code ignores the schema's ``force_align`` on buffer data,
so :func:`pack_model_t` writes every buffer 16-byte aligned, as the TFLite
converter does: kernels read weights (and FWCS blobs) in place.
"""
from __future__ import annotations

import numpy as np

BUFFER_ALIGNMENT = 16  # bytes, the schema's force_align for Buffer.data


def pack_model_t(fb, model_t) -> bytes:
    """The bytes of ``model_t`` (a ``fb.ModelT``) with every buffer's data 16-byte aligned."""
    import flatbuffers

    class AlignedBuffer(fb.BufferT):
        def Pack(self, builder):
            data = self.data
            vec = None
            if data is not None:
                raw = np.asarray(data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(raw), BUFFER_ALIGNMENT)
                builder.head = builder.head - len(raw)
                builder.Bytes[builder.head : builder.head + len(raw)] = raw
                vec = builder.EndVector()
            fb.BufferStart(builder)
            if vec is not None:
                fb.BufferAddData(builder, vec)
            if self.offset:
                fb.BufferAddOffset(builder, self.offset)
            if self.size:
                fb.BufferAddSize(builder, self.size)
            return fb.BufferEnd(builder)

    for i, b in enumerate(model_t.buffers):
        nb = AlignedBuffer()
        nb.data, nb.offset, nb.size = b.data, b.offset, b.size
        model_t.buffers[i] = nb
    builder = flatbuffers.Builder(1024)
    builder.Finish(model_t.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
