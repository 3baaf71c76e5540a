"""dtmm.targets.codesize: the kernel library's share of .text from a GNU ld map, and ELF section sizes."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from dtmm.errors import DtmmError
from dtmm.targets.codesize import elf_section_sizes, kernel_sections, map_input_sections

MAP = """\
Archive member included to satisfy reference by file (symbol)

Linker script and memory map

.text           0x10000000     0x1000
 *(.text .text.*)
 .text.main     0x10000000       0x20 build/src/main.o
 .text.dtmm_conv_s8_mve_with
                0x10000020      0x1a8 build/lib413/libdtmm_kernels.a(dtmm_conv_s8_mve_with.o)
                0x10000020                dtmm_conv_s8_mve_with
 *fill*         0x100001c8        0x8
 .rodata.dtmm_conv_mve_quad16_s16_full
                0x100001d0        0xc build/lib413/libdtmm_kernels.a(dtmm_conv_s8_mve_with.o)
 .text.memcpy   0x100001dc       0x40 /usr/lib/arm-none-eabi/newlib/libc_nano.a(libc_a-memcpy.o)
 .text.dtmm_add_s8
                0x1000021c        0x4 build/lib413/libdtmm_kernels.a(dtmm_add_s8.o)

.data           0x30000000       0x10
 .data.counter  0x30000000        0x4 build/lib413/libdtmm_kernels.a(dtmm_add_s8.o)
"""


def test_kernel_sections_from_a_map(tmp_path):
    m = tmp_path / "firmware.map"
    m.write_text(MAP)
    every = map_input_sections(m)
    assert [(s.output, s.size) for s in every][:2] == [(".text", 0x20), (".text", 0x1A8)]
    kernels = kernel_sections(m)
    # wrapped names are followed, the library's .data and other archives are not counted
    assert [s.name for s in kernels] == [".text.dtmm_conv_s8_mve_with", ".rodata.dtmm_conv_mve_quad16_s16_full",
                                         ".text.dtmm_add_s8"]  # fmt: skip
    assert sum(s.size for s in kernels) == 0x1A8 + 0xC + 0x4
    m.write_text("not a map\n")
    with pytest.raises(DtmmError, match="not a GNU ld map"):
        map_input_sections(m)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_elf_section_sizes_match_size_tool(tmp_path):
    src = tmp_path / "a.c"
    src.write_text("int f(int x) { return 3 * x; }\nconst int table[5] = {1, 2, 3, 4, 5};\n")
    obj = tmp_path / "a.o"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-c", str(src), "-o", str(obj)],
                   check=True)  # fmt: skip
    sizes = elf_section_sizes(obj)
    out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True, check=True).stdout
    want = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[2:] if len(line.split()) >= 2
            and line.split()[1].isdigit()}  # fmt: skip
    assert sizes[".text"] == want[".text"] > 0 and sizes[".rodata"] == want[".rodata"] == 20
    (tmp_path / "x").write_bytes(b"MZ\0\0")
    with pytest.raises(DtmmError, match="not a 32-bit little-endian ELF"):
        elf_section_sizes(tmp_path / "x")
