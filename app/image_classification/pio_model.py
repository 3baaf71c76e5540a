"""PlatformIO pre: hook of app/image_classification (the ic-<board> envs in platformio.ini).

Makes `pio run -e ic-qemu-m4` build app/image_classification around the
configured model:

1. source directory: app/image_classification/src (custom_dtmm_app_src);
2. which model: custom_dtmm_model (an int8 .tflite), or else the output of
   `make demo` for a flash budget: <run_dir>/prune/<budget>/model_int8.tflite
   (dense_int8.tflite with custom_dtmm_variant = dense).  An empty
   custom_dtmm_budget means the budget of the latest demo run
   (<run_dir>/demo.json).  When that budget has not been pruned yet, the hook
   prunes it first with the demo's recipe (`python -m dtmm.demo --prune-only`,
   a few minutes for ResNet-8);
3. images: custom_dtmm_images, default <run_dir>/images.npz (written by the demo);
4. regeneration: a SHA-256 stamp over the model bytes, the image bytes, the
   options and the dtmm sources that generate the code is compared with the
   one stored next to the generated files ($BUILD_DIR/dtmm_model/); only
   when it differs does the hook run `python -m dtmm.demo.imageclass generate`
   (dtmm pack + image header).  Nothing changed = no process started, no
   file touched, nothing recompiled.
5. the generated model is added to the build; ic_config.h etc. to the include path.

Every option can be overridden for one build with an environment variable
DTMM_IC_<NAME> (DTMM_IC_MODEL, DTMM_IC_BUDGET, DTMM_IC_VARIANT, DTMM_IC_IMAGES,
DTMM_IC_RUN_DIR, DTMM_IC_PROFILE, DTMM_IC_PYTHON); `make demo` builds this way.
Relative paths are relative to the project directory.  custom_dtmm_profile =
yes builds with per-operator counts (DTMM_PROFILE) for the first images only.
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

from SCons.Script import COMMAND_LINE_TARGETS  # noqa: F401  (SCons provides it)

Import("env")  # noqa: F821  (SCons provides Import)

#: bump when the hook's notion of "what the generated files depend on" changes
HOOK_VERSION = "1"
#: keep in sync with dtmm.demo.imageclass.GENERATOR_SOURCES / STAMP_FILE / GENERATED_FILES
GENERATOR_SOURCES = (
    "demo/imageclass.py",
    "formats/fwcs/*.py",
    "tflite/model.py",
    "prune/data.py",
    "pack/*.py",
    "pack/lowering/*.py",
)
STAMP_FILE = "dtmm_model.stamp"
GENERATED_FILES = ("classifier.c", "classifier.h", "classifier.json", "ic_model.c", "ic_images.h", "ic_config.h")

PROJECT_DIR = env.subst("$PROJECT_DIR")  # noqa: F821
PREFIX = "dtmm image_classification: "


def fail(message):
    sys.stderr.write("Error: " + PREFIX + message + "\n")
    env.Exit(1)  # noqa: F821


def option(name, default=""):
    value = os.environ.get("DTMM_IC_" + name.upper())
    if value is None:
        value = env.GetProjectOption("custom_dtmm_" + name, default)  # noqa: F821
    return str(value).strip()


def project_path(value):
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(PROJECT_DIR, value))


def shown(path):
    """A path for messages: relative inside the project, absolute outside."""
    rel = os.path.relpath(path, PROJECT_DIR)
    return path if rel.startswith("..") else rel


def budget_slug(budget):
    """Directory name of a budget: '50%' -> '50pct', '40 KB' -> '40kb' (same as dtmm.demo.budget_slug)."""
    text = budget.strip().lower().replace("%", "pct")
    return re.sub(r"[^a-z0-9.]+", "", text) or "budget"


def is_yes(value):
    return value.lower() in ("1", "yes", "true", "on")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def generator_files(package_dir):
    found = set()
    for pattern in GENERATOR_SOURCES:
        found.update(p for p in glob.glob(os.path.join(package_dir, pattern)) if os.path.isfile(p))
    return sorted(found)


def stamp_of(model, images, profile, extra, package_dir):
    """Same algorithm as dtmm.demo.imageclass.stamp_of (tests/test_demo_firmware.py checks it)."""
    h = hashlib.sha256()
    h.update(b"model\0" + sha256_file(model))
    h.update(b"images\0" + sha256_file(images))
    h.update(("profile=%d\0%s\0" % (1 if profile else 0, extra)).encode())
    for f in generator_files(package_dir):
        rel = os.path.relpath(f, package_dir).replace(os.sep, "/")
        h.update(rel.encode() + b"\0" + sha256_file(f))
    return h.hexdigest()


def dtmm_python():
    configured = option("python")
    if configured:
        return project_path(configured)
    venv = os.path.join(PROJECT_DIR, ".venv", "bin", "python")
    return venv if os.path.isfile(venv) else sys.executable


def run_dtmm(args, what):
    cmd = [dtmm_python()] + args
    env_vars = dict(os.environ)
    tools = os.path.join(PROJECT_DIR, "tools")
    env_vars["PYTHONPATH"] = tools + (os.pathsep + env_vars["PYTHONPATH"] if env_vars.get("PYTHONPATH") else "")
    try:
        result = subprocess.run(cmd, env=env_vars, cwd=PROJECT_DIR)
    except OSError as exc:
        fail("cannot run %s (%s): %s" % (cmd[0], what, exc))
    if result.returncode != 0:
        fail("%s failed (exit status %d): %s" % (what, result.returncode, " ".join(cmd)))


def resolve_model(run_dir):
    """(model path, description) from custom_dtmm_model or the demo run directory and budget."""
    explicit = option("model")
    if explicit:
        path = project_path(explicit)
        if not os.path.isfile(path):
            fail("custom_dtmm_model / DTMM_IC_MODEL %s does not exist" % path)
        return path, "model %s" % shown(path)
    variant = option("variant", "pruned") or "pruned"
    if variant not in ("pruned", "dense"):
        fail("custom_dtmm_variant must be 'pruned' or 'dense', not %r" % variant)
    recipe_path = os.path.join(run_dir, "demo.json")
    budget = option("budget")
    if not budget:
        if not os.path.isfile(recipe_path):
            fail(
                "no model configured: run `make demo` first (it writes %s), or set custom_dtmm_model "
                "(an int8 .tflite) in platformio.ini" % shown(recipe_path)
            )
        with open(recipe_path, encoding="utf-8") as fp:
            budget = str(json.load(fp).get("budget", ""))
        if not budget:
            fail("%s names no budget" % recipe_path)
    model_dir = os.path.join(run_dir, "prune", budget_slug(budget))
    path = os.path.join(model_dir, "model_int8.tflite" if variant == "pruned" else "dense_int8.tflite")
    if not os.path.isfile(path):
        if not os.path.isfile(recipe_path):
            fail(
                "no pruned model for budget %s (%s) and no demo run in %s to take the recipe from: "
                "run `make demo BUDGET=%s` first" % (budget, path, run_dir, budget)
            )
        print(PREFIX + "budget %s has not been pruned yet: pruning with the demo's recipe "
              "(this takes a few minutes) ..." % budget)
        sys.stdout.flush()
        run_dtmm(["-m", "dtmm.demo", "--prune-only", "--out", run_dir, "--budget", budget],
                 "pruning for budget %s" % budget)
        if not os.path.isfile(path):
            fail("pruning for budget %s did not produce %s" % (budget, path))
    return path, "budget %s, %s model %s" % (budget, variant, shown(path))


def main():
    app_src = project_path(option("app_src", "app/image_classification/src") or "app/image_classification/src")
    if not os.path.isdir(app_src):
        fail("application source directory %s does not exist" % app_src)
    env.Replace(PROJECT_SRC_DIR=app_src)  # noqa: F821
    gen_dir = os.path.join(env.subst("$BUILD_DIR"), "dtmm_model")  # noqa: F821
    env.Append(CPPPATH=[gen_dir])  # noqa: F821
    if any(t in ("clean", "cleanall") for t in COMMAND_LINE_TARGETS):
        return
    run_dir = project_path(option("run_dir", "out/demo") or "out/demo")
    model, what = resolve_model(run_dir)
    images = project_path(option("images") or os.path.join(run_dir, "images.npz"))
    if not os.path.isfile(images):
        fail("images file %s does not exist (make demo writes it; or set custom_dtmm_images)" % images)
    profile = is_yes(option("profile", "no") or "no")
    package_dir = os.path.join(PROJECT_DIR, "tools", "dtmm")
    extra = "hook=%s\0model_file=%s" % (HOOK_VERSION, os.path.basename(model))
    stamp = stamp_of(model, images, profile, extra, package_dir)
    stamp_path = os.path.join(gen_dir, STAMP_FILE)
    current = None
    if os.path.isfile(stamp_path):
        with open(stamp_path, encoding="utf-8") as fp:
            current = fp.read().strip()
    complete = all(os.path.isfile(os.path.join(gen_dir, f)) for f in GENERATED_FILES)
    label = "%s%s" % (what, ", profiling" if profile else "")
    if current == stamp and complete:
        print(PREFIX + "model sources up to date (%s; stamp %s)" % (label, stamp[:12]))
    else:
        print(PREFIX + "generating model sources (%s; stamp %s) ..." % (label, stamp[:12]))
        sys.stdout.flush()
        args = ["-m", "dtmm.demo.imageclass", "generate", "--model", model, "--images", images, "--out", gen_dir,
                "--stamp", stamp]
        if profile:
            args.append("--profile")
        run_dtmm(args, "generating the model sources")
    # After generation (BuildSources lists the directory now).  The model is compiled with this
    # env, not with the project env PlatformIO clones later for src/, so it needs the kernel
    # library's headers explicitly (the library finder adds them for src/ only).
    env.Append(CPPPATH=[os.path.join(PROJECT_DIR, "lib", "dtmm_kernels", "include")])  # noqa: F821
    env.BuildSources(os.path.join("$BUILD_DIR", "dtmm_model_obj"), gen_dir, "-<*> +<ic_model.c>")  # noqa: F821


main()
