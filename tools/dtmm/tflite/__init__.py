"""Reading int8 .tflite models, and the tflite-micro interpreter as the golden model.

* :mod:`.model` -- a .tflite flatbuffer as tensors and operators, conv layers
  with their quantization, weight replacement;
* :mod:`.interpreter` -- tflite-micro's Python interpreter: reference outputs
  and the smallest arena it needs.

Every stage that takes a .tflite (prune export checks, pack, bench, demo)
reads it through here.
"""
