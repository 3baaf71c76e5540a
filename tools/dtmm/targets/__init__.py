"""Where firmware is built and run: boards, QEMU, PlatformIO, and packed models on them.

* :mod:`.boards` -- the board table (QEMU machines and real boards, cores, clocks);
* :mod:`.qemu` -- running an ELF under QEMU, its console and exact instruction counts;
* :mod:`.platformio` -- offline PlatformIO: core bootstrap and builds of an app for a board;
* :mod:`.model_runner` -- `dtmm run-model`: a packed model built into app/model_runner and run;
* :mod:`.trace`, :mod:`.disasm`, :mod:`.timing`, :mod:`.cycles` -- estimated cycles (``--cycles``):
  QEMU's instruction trace, the ELF decoded, per-core timing tables, the estimate per measured region.

The targets come after the packer in the pipeline: they build what it emits.
"""
