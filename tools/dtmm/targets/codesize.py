"""Code size of a built firmware: its .text, and the part of it that lib/dtmm_kernels contributes.

The firmware is linked with -ffunction-sections -fdata-sections --gc-sections
(boards/platformio/platform-dtmm/builder/main.py), so what the
kernel library costs depends on what the program references: only the
sections that survived the link count.  ``.text`` of the ELF holds code and
read-only data (the model's weights included); the kernel share is read from
the linker map written next to the ELF (``firmware.map``): every input
section placed in ``.text`` that comes from the ``libdtmm_kernels.a`` archive
(code, and the library's few constant tables).
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import DtmmError

KERNEL_ARCHIVE = "libdtmm_kernels.a"

_OUT_SECTION = re.compile(r"^(\.\S+)")
_IN_NAME_ONLY = re.compile(r"^ (\.\S+|COMMON)\s*$")
_IN_FULL = re.compile(r"^ (\.\S+|COMMON)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_IN_CONT = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")


@dataclass(frozen=True)
class InputSection:
    output: str  # output section, e.g. ".text"
    name: str  # input section, e.g. ".text.dtmm_conv_s8_mve_with"
    size: int
    origin: str  # object file, e.g. ".../libdtmm_kernels.a(dtmm_conv_s8_mve.o)"


def elf_section_sizes(elf: str | Path) -> dict[str, int]:
    """{section name: bytes} of a 32-bit little-endian ELF (what `size -A` prints)."""
    data = Path(elf).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise DtmmError(f"{elf}: not a 32-bit little-endian ELF file")
    shoff = struct.unpack_from("<I", data, 0x20)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<10I", data, shoff + k * shentsize) for k in range(shnum)]
    strtab = headers[shstrndx][4]

    def name(off: int) -> str:
        end = data.index(b"\0", strtab + off)
        return data[strtab + off:end].decode()

    return {name(h[0]): h[5] for h in headers[1:]}


def map_input_sections(map_file: str | Path) -> list[InputSection]:
    """The input sections the linker placed, from a GNU ld map file (-Wl,-Map)."""
    out: list[InputSection] = []
    started, output, pending = False, None, None
    try:
        lines = Path(map_file).read_text(errors="replace").splitlines()
    except OSError as exc:
        raise DtmmError(f"cannot read linker map {map_file}: {exc.strerror or exc}") from None
    for line in lines:
        if not started:
            started = line.startswith("Linker script and memory map")
            continue
        m = _OUT_SECTION.match(line)
        if m:
            output, pending = m.group(1), None
            continue
        m = _IN_FULL.match(line)
        if m:
            out.append(InputSection(output, m.group(1), int(m.group(3), 16), m.group(4).strip()))
            pending = None
            continue
        m = _IN_NAME_ONLY.match(line)
        if m:
            pending = m.group(1)
            continue
        m = _IN_CONT.match(line)
        if m and pending:
            out.append(InputSection(output, pending, int(m.group(2), 16), m.group(3).strip()))
        pending = None
    if not started:
        raise DtmmError(f"{map_file}: not a GNU ld map file (no memory map)")
    return out


def kernel_sections(map_file: str | Path) -> list[InputSection]:
    """The input sections in .text that come from lib/dtmm_kernels."""
    return [s for s in map_input_sections(map_file) if s.output == ".text" and f"{KERNEL_ARCHIVE}(" in s.origin]


def firmware_code_size(elf: str | Path) -> dict:
    """{"firmware_text_bytes", "kernel_text_bytes"} of a firmware built by the DTMM builder
    (its linker map is the ELF's name with .map)."""
    elf = Path(elf)
    sizes = elf_section_sizes(elf)
    if ".text" not in sizes:
        raise DtmmError(f"{elf}: no .text section")
    return {
        "firmware_text_bytes": sizes[".text"],
        "kernel_text_bytes": sum(s.size for s in kernel_sections(elf.with_suffix(".map"))),
    }


__all__ = ["InputSection", "elf_section_sizes", "firmware_code_size", "kernel_sections", "map_input_sections"]
