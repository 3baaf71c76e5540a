/*
 * tflm_image_classification - a plain TensorFlow Lite Micro application with DTMM's custom op.
 *
 * Built by the PlatformIO environments tflm-<board> (platformio.ini) against
 * an unmodified TFLM source tree (TFLM_DIR); the pre: hook pio_tflm.py adds
 * TFLM's sources and generates, from the configured model and inputs,
 * tflm_config.h (model array, inputs, op registrations, arena size).  Any
 * int8 model runs: one converted by `dtmm convert` registers DTMM_CONV_2D
 * the way docs/tflm.md tells users to.
 *
 * For each input it copies the input to the interpreter, measures one Invoke() and prints
 *
 *   @dtmm measure inference COUNT     (instructions under QEMU, cycles on hardware)
 *   @dtmm output N s0 s1 ...          (the int8 output)
 *
 * then "@dtmm tflm arena_used BYTES" and "@dtmm done N", and exits 0; it exits 3
 * when set-up fails and 4 when an inference fails, after an "@dtmm error ..." line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "dtmm_board.h"
#include "dtmm_tflm.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#if defined(__has_include)
#if !__has_include("tflm_config.h")
#error "app/tflm_image_classification is built by the tflm-<board> PlatformIO envs, whose pre: hook generates tflm_config.h"
#endif
#endif

#include "tflm_config.h"

#define APP_EXIT_SETUP 3
#define APP_EXIT_INVOKE 4

/* TFLM's logging goes to the board console (the app replaces TFLM's default debug_log.cc). */
extern "C" void DebugLog(const char *format, va_list args) { dtmm_vprintf(format, args); }

extern "C" int DebugVsnprintf(char *buffer, size_t buf_size, const char *format, va_list vlist)
{
    return dtmm_vsnprintf(buffer, buf_size, format, vlist);
}

/* A failed assert() (flatbuffers, TFLM's debug checks) reports on the console and stops the board:
 * newlib's own would print through stdio, which needs a heap this firmware does not have. */
extern "C" void __assert_func(const char *file, int line, const char *func, const char *expr)
{
    dtmm_printf("@dtmm error assert %s:%d %s: %s\n", file, line, func != nullptr ? func : "-", expr);
    dtmm_exit(DTMM_EXIT_FAULT);
}

namespace {

alignas(16) uint8_t tensor_arena[TFLM_APP_ARENA_BYTES];

using Resolver = tflite::MicroMutableOpResolver<TFLM_APP_NUM_OPS>;

TfLiteStatus add_ops(Resolver &resolver)
{
    TFLM_APP_ADD_OPS(resolver);
    return kTfLiteOk;
}

int setup_error(const char *what)
{
    dtmm_printf("@dtmm error setup %s\n", what);
    return APP_EXIT_SETUP;
}

}  // namespace

int main(void)
{
    dtmm_printf("@dtmm tflm model %s (%u bytes) on %s: %u inputs, arena %u bytes\n", TFLM_APP_MODEL_FILE,
                (unsigned)TFLM_APP_MODEL_BYTES, dtmm_board_name(), (unsigned)TFLM_APP_NUM_INPUTS,
                (unsigned)TFLM_APP_ARENA_BYTES);
    const tflite::Model *model = tflite::GetModel(tflm_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        return setup_error("schema version");
    }
    Resolver resolver;
    if (add_ops(resolver) != kTfLiteOk) {
        return setup_error("op registration");
    }
    tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, sizeof tensor_arena);
    if (interpreter.AllocateTensors() != kTfLiteOk) {
        return setup_error("AllocateTensors (see the message above)");
    }
    TfLiteTensor *input = interpreter.input(0);
    TfLiteTensor *output = interpreter.output(0);
    if (input->bytes != TFLM_APP_INPUT_BYTES || input->type != kTfLiteInt8 || output->type != kTfLiteInt8) {
        return setup_error("input or output tensor differs from the generated inputs");
    }
    for (unsigned n = 0; n < TFLM_APP_NUM_INPUTS; n++) {
        memcpy(input->data.int8, tflm_inputs[n], TFLM_APP_INPUT_BYTES);
        uint64_t start = dtmm_measure_begin();
        TfLiteStatus status = interpreter.Invoke();
        dtmm_measure_end("inference", start);
        if (status != kTfLiteOk) {
            dtmm_printf("@dtmm error invoke %u\n", n);
            return APP_EXIT_INVOKE;
        }
        dtmm_printf("@dtmm output %u", n);
        for (size_t i = 0; i < output->bytes; i++) {
            dtmm_printf(" %d", (int)output->data.int8[i]);
        }
        dtmm_printf("\n");
    }
    dtmm_printf("@dtmm tflm arena_used %u\n", (unsigned)interpreter.arena_used_bytes());
    dtmm_printf("@dtmm done %u\n", (unsigned)TFLM_APP_NUM_INPUTS);
    return 0;
}
