"""DTMM QEMU dev-platform: the PlatformIO side of the five emulated boards.

The platform declares no packages: the toolchain is the arm-none-eabi one on
PATH (Debian's gcc-arm-none-eabi + libnewlib-arm-none-eabi here), so nothing
is ever downloaded from PlatformIO's registry.  builder/main.py checks for the
compiler and fails with a clear message when it is missing.

PlatformIO derives the class name from the "name" in platform.json
("dtmm-qemu" -> DtmmqemuPlatform).
"""
from platformio.public import PlatformBase


class DtmmqemuPlatform(PlatformBase):
    def is_embedded(self):
        # No uploader package, but the firmware is for a microcontroller:
        # PlatformIO uses this for linker grouping and test runner choice.
        return True
