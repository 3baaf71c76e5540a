"""FWCS, the filterlet-wise compressed storage of one int8 conv layer (docs/fwcs.md).

* :mod:`.codec` -- the byte format: encode, validate, decode, exact sizes;
* :mod:`.reference` -- the int8 convolution computed from a blob, bit-exact with tflite-micro;
* :mod:`.c_emit` -- blobs as C arrays for firmware.

The codec's public names are re-exported here, so ``from dtmm.formats import
fwcs`` then ``fwcs.encode(...)`` reads as the format it is.
"""

from .codec import (
    CRC_OFFSET,
    ENC_BITMAP,
    ENC_DENSE,
    ENC_GROUPS,
    ENC_LIST,
    ENCODING_NAMES,
    ENCODINGS,
    FLAG_DENSE_FALLBACK,
    GROUP_MAX,
    HEADER_SIZE,
    INT32_MAX,
    INT32_MIN,
    KNOWN_FLAGS,
    LIST_MAX_POSITIONS,
    MAGIC,
    PADDING_SAME,
    PADDING_VALID,
    VERSION,
    WEIGHTS_ALIGN,
    ConvSpec,
    FwcsError,
    FwcsHeader,
    FwcsLayer,
    auto_group,
    best_encoding,
    blob_crc,
    choose_encoding,
    decode,
    encode,
    encoding_costs,
    group_keep_mask,
    groups_possible,
    groups_size,
    index_size,
    keep_mask,
    validate,
    with_crc,
)

# The TFLite custom operator whose input 1 is one FWCS blob (`dtmm convert`, docs/tflm.md): what stock
# TensorFlow Lite Micro runs with the DTMM adapter registered, and what `dtmm pack` lowers like CONV_2D.
CUSTOM_OP = "DTMM_CONV_2D"

__all__ = [
    "CUSTOM_OP",
    "CRC_OFFSET", "ENC_BITMAP", "ENC_DENSE", "ENC_GROUPS", "ENC_LIST", "ENCODING_NAMES", "ENCODINGS",
    "FLAG_DENSE_FALLBACK", "GROUP_MAX", "HEADER_SIZE", "INT32_MAX", "INT32_MIN", "KNOWN_FLAGS", "LIST_MAX_POSITIONS", "MAGIC", "PADDING_SAME",
    "PADDING_VALID", "VERSION", "WEIGHTS_ALIGN", "ConvSpec", "FwcsError", "FwcsHeader", "FwcsLayer", "auto_group", "best_encoding", "blob_crc",
    "choose_encoding", "decode", "encode", "encoding_costs", "group_keep_mask", "groups_possible", "groups_size", "index_size", "keep_mask", "validate", "with_crc",
]  # fmt: skip
