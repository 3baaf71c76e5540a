"""Sources of app/image_classification: a packed model plus a batch of embedded test images.

The firmware app ``app/image_classification/src/main.c`` classifies
``IC_NUM_IMAGES`` images compiled into flash with a model packed by `dtmm
pack`, and prints per image its prediction, the label, the int8 scores and
the retired instructions of the inference.  Its model-specific sources are
generated, never checked in:

* ``classifier.c`` / ``classifier.h`` / ``classifier.json`` -- ``dtmm pack``
  of the model under the C name ``classifier``;
* ``ic_model.c`` -- the unit PlatformIO compiles: ``ic_config.h`` then
  ``classifier.c`` (so profiling can be switched on without a build flag);
* ``ic_images.h`` -- the images, already converted to the model's input
  type and quantization, their labels and the class names;
* ``ic_config.h`` -- run options (profiling, images to run) and includes.

:func:`generate` writes them (a file is rewritten only when its content
changes, so an unchanged model recompiles nothing).  The PlatformIO hook
``app/image_classification/pio_model.py`` calls it through
``python -m dtmm.demo.imageclass generate`` when its hash stamp says that the
model, the images, the options or the generator itself changed.

Images come from an ``.npz`` with ``x`` (uint8 ``[N, H, W, C]`` pixels),
``y`` (labels), optionally ``classes`` (names), ``index`` (positions in the
test split) and ``preprocess`` (``raw``/``unit``/``symmetric``, how pixels
become model input before quantization; default ``raw``).

:func:`parse_console` reads a run of the firmware back.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DtmmError
from ..fileio import write_if_changed
from ..targets.qemu import OUTPUT_LINE, counter_unit, inference_measurements, output_values

#: C name of the packed model inside the app
MODEL_NAME = "classifier"
#: files :func:`generate` writes
GENERATED_FILES = (
    f"{MODEL_NAME}.c",
    f"{MODEL_NAME}.h",
    f"{MODEL_NAME}.json",
    "ic_model.c",
    "ic_images.h",
    "ic_config.h",
)
#: where the hook writes its stamp, next to the generated files
STAMP_FILE = "dtmm_model.stamp"
#: images a profiling build runs (per-operator counts hardly depend on the image)
PROFILE_IMAGES = 2
#: the dtmm sources whose code decides what :func:`generate` writes (the hook hashes them)
GENERATOR_SOURCES = (
    "demo/imageclass.py",
    "formats/fwcs/*.py",
    "tflite/model.py",
    "prune/data.py",
    "pack/*.py",
    "pack/lowering/*.py",
)

_IMAGE_LINE = re.compile(r"^@dtmm image (\d+) predicted (-?\d+) label (-?\d+)\b")
_MODEL_LINE = re.compile(r"^@dtmm model .* conv path (\S+)\s*$")
_ERROR_LINE = re.compile(r"^@dtmm error (.*)$")
_DONE_LINE = re.compile(r"^@dtmm done (\d+)\s*$")


def generator_files(package_dir: Path | None = None) -> list[Path]:
    """The files of :data:`GENERATOR_SOURCES`, sorted."""
    base = Path(package_dir) if package_dir else Path(__file__).resolve().parents[1]
    found: list[Path] = []
    for pattern in GENERATOR_SOURCES:
        found.extend(p for p in base.glob(pattern) if p.is_file())
    return sorted(set(found))


# ---- images --------------------------------------------------------------------------------------
@dataclass
class Images:
    x: np.ndarray  # uint8 [N, H, W, C] pixels (or float32 already-preprocessed values)
    y: np.ndarray  # int64 [N]
    classes: list[str]
    index: np.ndarray | None = None  # positions in the test split
    preprocess: str = "raw"
    source: str = ""


def save_images(path: str | os.PathLike, images: Images) -> Path:
    """Writes ``images`` as an .npz readable by :func:`load_images` (atomically)."""
    from ..fileio import save_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def _save(tmp: str) -> None:
        with open(tmp, "wb") as f:
            arrays = dict(x=images.x, y=np.asarray(images.y, dtype=np.int64), classes=np.array(images.classes),
                          preprocess=np.array(images.preprocess))  # fmt: skip
            if images.index is not None:
                arrays["index"] = np.asarray(images.index, dtype=np.int64)
            np.savez(f, **arrays)

    save_atomic(path, _save, suffix=".npz")
    return path


def load_images(path: str | os.PathLike) -> Images:
    p = Path(path)
    if not p.is_file():
        raise DtmmError(f"images file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            if "x" not in z.files or "y" not in z.files:
                raise DtmmError(f"{p}: needs arrays 'x' (images) and 'y' (labels); has {', '.join(z.files)}")
            x, y = z["x"], np.asarray(z["y"]).reshape(-1).astype(np.int64)
            classes = [str(c) for c in z["classes"]] if "classes" in z.files else None
            index = z["index"] if "index" in z.files else None
            pre = str(z["preprocess"]) if "preprocess" in z.files else "raw"
    except DtmmError:
        raise
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise DtmmError(f"{p}: not a readable .npz ({exc})") from None
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or len(x) == 0 or len(x) != len(y):
        raise DtmmError(f"{p}: expected x [N, H, W, C] with N >= 1 and N labels, got {list(x.shape)} and {len(y)}")
    n_cls = int(y.max()) + 1 if len(y) else 0
    classes = classes or [str(k) for k in range(n_cls)]
    return Images(x, y, classes, index, pre, str(p))


def model_inputs(images: Images, io) -> np.ndarray:
    """The images as model input: shape ``[N, *io.shape]``, int8 quantized like the pruner's
    evaluation (``round(x / scale) + zero_point``, clamped) or float32."""
    from ..prune.data import preprocess

    shape = tuple(io.shape)
    per_image = int(np.prod(shape))
    if int(np.prod(images.x.shape[1:])) != per_image:
        raise DtmmError(
            f"{images.source}: images are {list(images.x.shape[1:])}, the model input is {list(shape)}"
        )
    xf = preprocess(images.x, images.preprocess) if images.x.dtype == np.uint8 else images.x.astype(np.float32)
    if io.dtype == "INT8":
        q = np.clip(np.round(xf / np.float32(io.scale)) + io.zero_point, -128, 127).astype(np.int8)
    elif io.dtype == "FLOAT32":
        q = xf.astype(np.float32)
    else:
        raise DtmmError(f"model input is {io.dtype}; the image classification app takes int8 or float32")
    return np.ascontiguousarray(q.reshape((len(q),) + shape))


# ---- generated text ------------------------------------------------------------------------------
def _c_str(text: str) -> str:
    return '"' + re.sub(r'[^ -~]', "?", text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def images_header(inputs: np.ndarray, images: Images, input_c_type: str) -> str:
    n = inputs.shape[0]
    flat = inputs.reshape(n, -1)
    lines = [
        "/* ic_images.h - generated by dtmm.demo.imageclass. Do not edit. */",
        "#ifndef IC_IMAGES_H",
        "#define IC_IMAGES_H",
        "#include <stdint.h>",
        "",
        f"#define IC_NUM_IMAGES {n}u",
        f"#define IC_NUM_CLASSES {len(images.classes)}u",
        f"/* {n} images from {_c_str(Path(images.source).name)[1:-1] or 'an .npz'}, as model input "
        f"({'float' if inputs.dtype == np.float32 else 'int8, quantized'}) */",
        f"static const {input_c_type} ic_images[{n}][{flat.shape[1]}] __attribute__((aligned(16))) = {{",
    ]
    for row in flat:
        lines.append("    {")
        if inputs.dtype == np.float32:
            vals = [f"{float(v):.9g}f" if np.isfinite(v) else "0.0f" for v in row]
        else:
            vals = [str(int(v)) for v in row]
        for i in range(0, len(vals), 24):
            lines.append("        " + ",".join(vals[i : i + 24]) + ",")
        lines.append("    },")
    lines.append("};")
    lines.append(f"static const uint16_t ic_labels[{n}] = {{")
    labels = [str(int(v)) for v in images.y]
    for i in range(0, n, 24):
        lines.append("    " + ",".join(labels[i : i + 24]) + ",")
    lines.append("};")
    lines.append(f"static const char *const ic_class_names[{len(images.classes)}] = {{")
    for c in images.classes:
        lines.append(f"    {_c_str(c)},")
    lines += ["};", "", "#endif", ""]
    return "\n".join(lines)


def config_header(*, profile: bool, run_images: int, model_file: str, model_sha256: str) -> str:
    return "\n".join(
        [
            "/* ic_config.h - generated by dtmm.demo.imageclass. Do not edit. */",
            "#ifndef IC_CONFIG_H",
            "#define IC_CONFIG_H",
            f"#define IC_PROFILE {1 if profile else 0}",
            "#if IC_PROFILE && !defined(DTMM_PROFILE)",
            "#define DTMM_PROFILE 1 /* per-operator counts in classifier.c */",
            "#endif",
            f"#define IC_RUN_IMAGES {run_images}u /* images main() classifies */",
            f"#define IC_MODEL_FILE {_c_str(model_file)}",
            f'#define IC_MODEL_SHA256 "{model_sha256}"',
            f'#include "{MODEL_NAME}.h"',
            '#include "ic_images.h"',
            "#endif",
            "",
        ]
    )


MODEL_UNIT = f"""/* ic_model.c - generated by dtmm.demo.imageclass. Do not edit.
 * The packed model, compiled with the app's options (ic_config.h may turn on DTMM_PROFILE). */
#include "ic_config.h"
#include "{MODEL_NAME}.c"
"""


_write_if_changed = write_if_changed


@dataclass
class Generated:
    out_dir: Path
    changed: list[str]
    summary: dict  # classifier.json
    n_images: int
    run_images: int
    profile: bool
    inputs: np.ndarray = field(repr=False)


def generate(model: str | os.PathLike, images: str | os.PathLike | Images, out_dir: str | os.PathLike, *,
             profile: bool = False, profile_images: int = PROFILE_IMAGES, max_images: int | None = None,
             lowering=None) -> Generated:  # fmt: skip
    """Packs ``model`` as ``classifier`` and writes the app's generated sources into ``out_dir``."""
    from ..pack import pack_model

    model = Path(model)
    if not model.is_file():
        raise DtmmError(f"model file not found: {model}")
    imgs = images if isinstance(images, Images) else load_images(images)
    if max_images is not None and max_images < len(imgs.y):
        imgs = Images(imgs.x[:max_images], imgs.y[:max_images], imgs.classes,
                      None if imgs.index is None else imgs.index[:max_images], imgs.preprocess, imgs.source)  # fmt: skip
    packed = pack_model(model, MODEL_NAME, lowering=lowering)
    if packed.output.dtype not in ("INT8", "FLOAT32"):
        raise DtmmError(f"{model}: model output is {packed.output.dtype}; expected int8 or float32 class scores")
    if len(imgs.classes) > packed.output.elements:
        raise DtmmError(
            f"{imgs.source}: {len(imgs.classes)} classes, but the model outputs {packed.output.elements} scores"
        )
    inputs = model_inputs(imgs, packed.input)
    n = int(inputs.shape[0])
    run = min(n, profile_images) if profile else n
    files = dict(packed.files)
    files["ic_model.c"] = MODEL_UNIT.encode()
    files["ic_images.h"] = images_header(inputs, imgs, packed.input.c_type).encode()
    files["ic_config.h"] = config_header(
        profile=profile, run_images=run, model_file=model.name, model_sha256=packed.summary["model_sha256"]
    ).encode()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    changed = [name for name, data in sorted(files.items()) if _write_if_changed(out / name, data)]
    return Generated(out, changed, packed.summary, n, run, profile, inputs)


def stamp_of(model: str | os.PathLike, images: str | os.PathLike, *, profile: bool, extra: str = "",
             package_dir: Path | None = None) -> str:  # fmt: skip
    """The hash the PlatformIO hook compares: model and image bytes, options, generator sources.
    (The hook computes the same with its own code; tests check they agree.)"""
    h = hashlib.sha256()
    for label, p in (("model", Path(model)), ("images", Path(images))):
        h.update(f"{label}\0".encode() + hashlib.sha256(p.read_bytes()).digest())
    h.update(f"profile={int(bool(profile))}\0{extra}\0".encode())
    base = Path(package_dir) if package_dir else Path(__file__).resolve().parents[1]
    for f in generator_files(base):
        h.update(str(f.relative_to(base)).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


# ---- console -------------------------------------------------------------------------------------
@dataclass
class FirmwareRun:
    predictions: list[int]
    labels: list[int]
    outputs: list[np.ndarray]
    instructions: list[int]
    profile: list[dict]  # per image: {op label: instructions} (profiling builds)
    conv_path: str | None
    done: int | None
    #: what the counts count, as the firmware declared it ("instructions" under QEMU, "cycles" on hardware)
    counter_unit: str | None = None

    @property
    def correct(self) -> int:
        return sum(int(p == l) for p, l in zip(self.predictions, self.labels))


def parse_console(console: str) -> FirmwareRun:
    """The per-image lines of app/image_classification's console."""
    preds: dict[int, int] = {}
    labels: dict[int, int] = {}
    outputs: dict[int, np.ndarray] = {}
    instructions, profile = inference_measurements(console)
    conv_path = None
    done = None
    for raw in console.splitlines():
        line = raw.strip()
        m = _IMAGE_LINE.match(line)
        if m:
            i = int(m.group(1))
            preds[i], labels[i] = int(m.group(2)), int(m.group(3))
            continue
        m = OUTPUT_LINE.match(line)
        if m:
            outputs[int(m.group(2))] = output_values(m.group(1), m.group(3))
            continue
        m = _MODEL_LINE.match(line)
        if m:
            conv_path = m.group(1)
            continue
        m = _DONE_LINE.match(line)
        if m:
            done = int(m.group(1))
    order = sorted(preds)
    if order != list(range(len(order))):
        raise DtmmError(f"firmware reported images {order[:5]}..., expected 0..{len(order) - 1}")
    return FirmwareRun(
        predictions=[preds[i] for i in order],
        labels=[labels[i] for i in order],
        outputs=[outputs[i] for i in order if i in outputs],
        instructions=instructions,
        profile=[p for p in profile if p],
        conv_path=conv_path,
        done=done,
        counter_unit=counter_unit(console),
    )


def firmware_error(console: str) -> str | None:
    for line in console.splitlines():
        m = _ERROR_LINE.match(line.strip())
        if m:
            return m.group(1)
    return None


# ---- command line (the PlatformIO hook runs this) -------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dtmm.demo.imageclass", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="pack a model and write the app's generated sources")
    g.add_argument("--model", required=True, help="int8 .tflite")
    g.add_argument("--images", required=True, help=".npz with x, y (and classes, preprocess)")
    g.add_argument("--out", required=True, help="directory for the generated sources")
    g.add_argument("--profile", action="store_true", help="per-operator counts (first images only)")
    g.add_argument("--max-images", type=int, default=None, help="embed at most this many images")
    g.add_argument("--stamp", default=None, help="write this stamp to OUT/" + STAMP_FILE + " when done")
    s = sub.add_parser("stamp", help="print the stamp of a model, images and options")
    s.add_argument("--model", required=True)
    s.add_argument("--images", required=True)
    s.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "stamp":
            print(stamp_of(args.model, args.images, profile=args.profile))
            return 0
        out = Path(args.out)
        stamp_path = out / STAMP_FILE
        stamp_path.unlink(missing_ok=True)  # an interrupted generation is never taken as up to date
        gen = generate(args.model, args.images, out, profile=args.profile, max_images=args.max_images)
        if args.stamp:
            _write_if_changed(stamp_path, (args.stamp + "\n").encode())
        s = gen.summary
        print(
            f"dtmm: generated {MODEL_NAME} from {Path(args.model).name}: {len(s['ops'])} ops, "
            f"model flash {s['flash_bytes']} bytes, arena {s['arena_bytes']} bytes; {gen.n_images} images"
            f"{' (profiling ' + str(gen.run_images) + ')' if gen.profile else ''}; "
            f"{len(gen.changed)} file(s) changed"
        )
        return 0
    except DtmmError as exc:
        print(f"dtmm: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
