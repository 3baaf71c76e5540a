/*
 * model_runner - runs a model packed by `dtmm pack` on embedded inputs.
 *
 * `dtmm run-model` builds this file together with the packed model
 * (NAME.c, NAME.h) and two generated headers in a build-specific source
 * directory under .pio/dtmm-run-model/:
 *
 *   model_runner_config.h  maps RUNNER_* to the model's API and sizes
 *   model_inputs.h         RUNNER_NUM_INPUTS raw inputs of RUNNER_INPUT_BYTES
 *
 * For every input it copies the bytes to the model's input tensor, measures
 * one invoke and prints
 *
 *   @dtmm measure inference COUNT                 (instructions under QEMU)
 *   @dtmm measure opNN_OPNAME COUNT ...           (with -DDTMM_PROFILE)
 *   @dtmm output INDEX v0 v1 ...                  (int8 outputs, decimal)
 *   @dtmm output_f32 INDEX xxxxxxxx ...           (float outputs, IEEE bits in hex)
 *
 * It exits 0 on success, 3 when init fails and 4 when an invoke fails, after
 * an "@dtmm error ..." line.
 */
#include <stdint.h>
#include <string.h>

#include "dtmm_board.h"
#include "dtmm_kernels.h"
#include "dtmm_status.h"

#if defined(__has_include)
#if !__has_include("model_runner_config.h")
#error "app/model_runner is built by `dtmm run-model`, which generates model_runner_config.h and model_inputs.h"
#endif
#endif

#include "model_runner_config.h"
#include "model_inputs.h"

#define RUNNER_EXIT_INIT 3
#define RUNNER_EXIT_INVOKE 4

static void print_output(uint32_t index)
{
    const RUNNER_OUTPUT_TYPE *out = RUNNER_OUTPUT();
#if RUNNER_OUTPUT_IS_FLOAT
    dtmm_printf("@dtmm output_f32 %u", (unsigned)index);
    for (uint32_t i = 0; i < RUNNER_OUTPUT_SIZE; i++) {
        uint32_t bits;
        memcpy(&bits, &out[i], sizeof bits);
        dtmm_printf(" %08x", (unsigned)bits);
    }
#else
    dtmm_printf("@dtmm output %u", (unsigned)index);
    for (uint32_t i = 0; i < RUNNER_OUTPUT_SIZE; i++) {
        dtmm_printf(" %d", (int)out[i]);
    }
#endif
    dtmm_printf("\n");
}

int main(void)
{
    dtmm_printf("@dtmm model %s on %s: %u inputs, arena %u bytes, weights %u bytes, conv path %s\n",
                RUNNER_MODEL_NAME, dtmm_board_name(), (unsigned)RUNNER_NUM_INPUTS, (unsigned)RUNNER_ARENA_SIZE,
                (unsigned)RUNNER_FLASH_BYTES, dtmm_conv_s8_path());
    dtmm_status status = RUNNER_INIT();
    if (status != DTMM_OK) {
        dtmm_printf("@dtmm error init %s (operator %d %s)\n", dtmm_status_name(status), RUNNER_ERROR_OP(),
                    RUNNER_OP_NAME(RUNNER_ERROR_OP()) ? RUNNER_OP_NAME(RUNNER_ERROR_OP()) : "-");
        return RUNNER_EXIT_INIT;
    }
    for (uint32_t n = 0; n < RUNNER_NUM_INPUTS; n++) {
        memcpy(RUNNER_INPUT(), runner_inputs[n], RUNNER_INPUT_BYTES);
        uint64_t start = dtmm_measure_begin();
        status = RUNNER_INVOKE();
        dtmm_measure_end("inference", start);
        if (status != DTMM_OK) {
            dtmm_printf("@dtmm error invoke %u %s (operator %d %s)\n", (unsigned)n, dtmm_status_name(status),
                        RUNNER_ERROR_OP(), RUNNER_OP_NAME(RUNNER_ERROR_OP()) ? RUNNER_OP_NAME(RUNNER_ERROR_OP()) : "-");
            return RUNNER_EXIT_INVOKE;
        }
#ifdef DTMM_PROFILE
        RUNNER_PROFILE_REPORT();
#endif
        print_output(n);
    }
    dtmm_printf("@dtmm done %u\n", (unsigned)RUNNER_NUM_INPUTS);
    return 0;
}
