/*
 * image_classification - classify a batch of embedded images with a DTMM-packed model.
 *
 * Built by the PlatformIO environments ic-<board> (platformio.ini), whose
 * pre: hook app/image_classification/pio_model.py packs the configured model
 * (`dtmm pack`, C name "classifier") and writes, into the build directory,
 *
 *   classifier.c/.h    the packed model (weights in flash, static arena)
 *   ic_images.h        IC_NUM_IMAGES images as model input, labels, class names
 *   ic_config.h        IC_RUN_IMAGES, IC_PROFILE; includes the two headers above
 *
 * For each image it copies the image to the model input, measures one
 * inference and prints
 *
 *   @dtmm measure inference COUNT                 (instructions under QEMU, cycles on hardware)
 *   @dtmm measure opNN_OPNAME COUNT ...           (profiling builds: one per operator)
 *   @dtmm image N predicted P label L (PNAME / LNAME)
 *   @dtmm output N s0 s1 ...                      (the scores; float models: IEEE bits in hex)
 *
 * then "@dtmm accuracy CORRECT RUN" and "@dtmm done RUN", and exits 0; it
 * exits 3 when init fails and 4 when an inference fails, after an
 * "@dtmm error ..." line.
 */
#include <stdint.h>
#include <string.h>

#include "dtmm_board.h"
#include "dtmm_kernels.h"
#include "dtmm_status.h"

#if defined(__has_include)
#if !__has_include("ic_config.h")
#error "app/image_classification is built by the ic-<board> PlatformIO envs, whose pre: hook generates ic_config.h"
#endif
#endif

#include "ic_config.h"

#define IC_EXIT_INIT 3
#define IC_EXIT_INVOKE 4

#if IC_RUN_IMAGES > IC_NUM_IMAGES
#error "IC_RUN_IMAGES exceeds the embedded images"
#endif

static const char *class_name(int k)
{
    return (k >= 0 && (unsigned)k < IC_NUM_CLASSES) ? ic_class_names[k] : "?";
}

/* index of the largest score; the first one on ties (as numpy.argmax) */
static int argmax(const CLASSIFIER_OUTPUT_TYPE *scores, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    return best;
}

static void print_scores(uint32_t index, const CLASSIFIER_OUTPUT_TYPE *out)
{
#if CLASSIFIER_OUTPUT_IS_FLOAT
    dtmm_printf("@dtmm output_f32 %u", (unsigned)index);
    for (uint32_t i = 0; i < CLASSIFIER_OUTPUT_SIZE; i++) {
        uint32_t bits;
        memcpy(&bits, &out[i], sizeof bits);
        dtmm_printf(" %08x", (unsigned)bits);
    }
#else
    dtmm_printf("@dtmm output %u", (unsigned)index);
    for (uint32_t i = 0; i < CLASSIFIER_OUTPUT_SIZE; i++) {
        dtmm_printf(" %d", (int)out[i]);
    }
#endif
    dtmm_printf("\n");
}

int main(void)
{
    dtmm_printf("@dtmm model %s on %s: %u images, arena %u bytes, weights %u bytes, conv path %s\n",
                IC_MODEL_FILE, dtmm_board_name(), (unsigned)IC_RUN_IMAGES,
                (unsigned)CLASSIFIER_ARENA_SIZE, (unsigned)CLASSIFIER_FLASH_BYTES, dtmm_conv_s8_path());
    dtmm_status status = classifier_init();
    if (status != DTMM_OK) {
        int op = classifier_error_op();
        dtmm_printf("@dtmm error init %s (operator %d %s)\n", dtmm_status_name(status), op,
                    classifier_op_name(op) ? classifier_op_name(op) : "-");
        return IC_EXIT_INIT;
    }
    unsigned correct = 0;
    for (uint32_t n = 0; n < IC_RUN_IMAGES; n++) {
        memcpy(classifier_input(), ic_images[n], CLASSIFIER_INPUT_BYTES);
        uint64_t start = dtmm_measure_begin();
        status = classifier_invoke();
        dtmm_measure_end("inference", start);
        if (status != DTMM_OK) {
            int op = classifier_error_op();
            dtmm_printf("@dtmm error invoke %u %s (operator %d %s)\n", (unsigned)n, dtmm_status_name(status), op,
                        classifier_op_name(op) ? classifier_op_name(op) : "-");
            return IC_EXIT_INVOKE;
        }
#if IC_PROFILE
        classifier_profile_report();
#endif
        const CLASSIFIER_OUTPUT_TYPE *scores = classifier_output();
        int pred = argmax(scores, (int)CLASSIFIER_OUTPUT_SIZE);
        int label = (int)ic_labels[n];
        correct += (pred == label);
        dtmm_printf("@dtmm image %u predicted %d label %d (%s / %s)\n", (unsigned)n, pred, label, class_name(pred),
                    class_name(label));
        print_scores(n, scores);
    }
    dtmm_printf("@dtmm accuracy %u %u\n", correct, (unsigned)IC_RUN_IMAGES);
    dtmm_printf("@dtmm done %u\n", (unsigned)IC_RUN_IMAGES);
    return 0;
}
