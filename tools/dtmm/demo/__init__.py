"""`make demo`: prune, pack, build and run a real model end to end, with a report.

* :mod:`.run` -- the demo itself (``dtmm demo``, or ``python -m dtmm.demo``);
* :mod:`.imageclass` -- sources of app/image_classification: a packed model plus
  embedded test images (``python -m dtmm.demo.imageclass generate``, called
  by the PlatformIO hook).
"""
