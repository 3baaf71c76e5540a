"""DTMM dev-platform: the PlatformIO side of the emulated and the real boards.

The platform declares no packages: the toolchain is the arm-none-eabi one on
PATH (Debian's gcc-arm-none-eabi + libnewlib-arm-none-eabi here) and the
uploaders are OpenOCD / pyOCD as installed on the machine, so nothing is ever
downloaded from PlatformIO's registry.  builder/main.py checks for the
compiler and fails with a clear message when it is missing.

PlatformIO derives the class name from the "name" in platform.json
("dtmm" -> DtmmPlatform).
"""
from platformio.public import PlatformBase


class DtmmPlatform(PlatformBase):
    def is_embedded(self):
        # The firmware is for a microcontroller: PlatformIO uses this for
        # linker grouping, the upload target and test runner choice.
        return True
