/*
 * dtmm_conv_2d_tflm.cc - the DTMM_CONV_2D custom op for TensorFlow Lite Micro.
 *
 * Prepare checks the blob against the node's tensors (dtmm_conv_s8_check_tensors:
 * alignment, full validation with CRC, shapes, output zero point) and asks
 * TFLM's arena for the kernel's scratch; Eval runs dtmm_conv_s8() once per
 * image.  Everything else the op needs (offsets, clamp, bias, per-channel
 * requantization) is in the blob, so no per-channel arrays are computed or
 * allocated here.  No heap: the op's state lives in TFLM's persistent arena.
 */
#include "dtmm_tflm.h"

#include <stddef.h>
#include <stdint.h>

#include "dtmm_kernels.h"
#include "dtmm_status.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace dtmm {
namespace {

constexpr int kInput = 0;
constexpr int kBlob = 1;
constexpr int kOutput = 0;

struct OpData {
    int scratch_index;     // -1: the kernel needs no scratch
    int32_t batches;
    int32_t input_image;   // bytes of one input image
    int32_t output_image;  // bytes of one output image
};

void* Init(TfLiteContext* context, const char* /*buffer*/, size_t /*length*/) {
    return context->AllocatePersistentBuffer(context, sizeof(OpData));
}

int32_t Dim(const TfLiteTensor* t, int i) { return t->dims->data[i]; }

TfLiteStatus Check(TfLiteContext* context, const TfLiteTensor* input, const TfLiteTensor* blob,
                   const TfLiteTensor* output, OpData* data) {
    if (input == nullptr || blob == nullptr || output == nullptr) {
        MicroPrintf("DTMM_CONV_2D: missing input, blob or output tensor");
        return kTfLiteError;
    }
    if (input->type != kTfLiteInt8 || output->type != kTfLiteInt8) {
        MicroPrintf("DTMM_CONV_2D: input and output must be int8 (got %s, %s)", TfLiteTypeGetName(input->type),
                    TfLiteTypeGetName(output->type));
        return kTfLiteError;
    }
    if ((blob->type != kTfLiteUInt8 && blob->type != kTfLiteInt8) || !tflite::IsConstantTensor(blob)) {
        MicroPrintf("DTMM_CONV_2D: input 1 must be a constant uint8 tensor holding an FWCS blob");
        return kTfLiteError;
    }
    if (tflite::NumDimensions(input) != 4 || tflite::NumDimensions(output) != 4 || Dim(input, 0) != Dim(output, 0)) {
        MicroPrintf("DTMM_CONV_2D: input and output must be NHWC with the same batch");
        return kTfLiteError;
    }
    dtmm_conv_tensors t;
    t.batches = Dim(input, 0);
    t.in_h = Dim(input, 1);
    t.in_w = Dim(input, 2);
    t.in_c = Dim(input, 3);
    t.out_h = Dim(output, 1);
    t.out_w = Dim(output, 2);
    t.out_c = Dim(output, 3);
    t.output_zero_point = output->params.zero_point;
    int32_t scratch = 0;
    const char* problem = "";
    const dtmm_status status = dtmm_conv_s8_check_tensors(tflite::GetTensorData<uint8_t>(blob),
                                                          static_cast<uint32_t>(blob->bytes), &t, &scratch, &problem);
    if (status != DTMM_OK) {
        MicroPrintf("DTMM_CONV_2D: %s (%s)", problem, dtmm_status_name(status));
        return kTfLiteError;
    }
    data->batches = t.batches;
    data->input_image = t.in_h * t.in_w * t.in_c;
    data->output_image = t.out_h * t.out_w * t.out_c;
    data->scratch_index = -1;
    if (scratch > 0) {
        return context->RequestScratchBufferInArena(context, static_cast<size_t>(scratch), &data->scratch_index);
    }
    return kTfLiteOk;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
    TF_LITE_ENSURE(context, node->user_data != nullptr);
    TF_LITE_ENSURE_EQ(context, tflite::NumInputs(node), 2);
    TF_LITE_ENSURE_EQ(context, tflite::NumOutputs(node), 1);
    tflite::MicroContext* micro = tflite::GetMicroContext(context);
    TfLiteTensor* input = micro->AllocateTempInputTensor(node, kInput);
    TfLiteTensor* blob = micro->AllocateTempInputTensor(node, kBlob);
    TfLiteTensor* output = micro->AllocateTempOutputTensor(node, kOutput);
    const TfLiteStatus status = Check(context, input, blob, output, static_cast<OpData*>(node->user_data));
    if (input != nullptr) micro->DeallocateTempTfLiteTensor(input);
    if (blob != nullptr) micro->DeallocateTempTfLiteTensor(blob);
    if (output != nullptr) micro->DeallocateTempTfLiteTensor(output);
    return status;
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
    const OpData& data = *static_cast<const OpData*>(node->user_data);
    const TfLiteEvalTensor* input = tflite::micro::GetEvalInput(context, node, kInput);
    const TfLiteEvalTensor* blob = tflite::micro::GetEvalInput(context, node, kBlob);
    TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, kOutput);
    void* scratch = data.scratch_index >= 0 ? context->GetScratchBuffer(context, data.scratch_index) : nullptr;
    const uint8_t* b = tflite::micro::GetTensorData<uint8_t>(blob);
    const int8_t* x = tflite::micro::GetTensorData<int8_t>(input);
    int8_t* y = tflite::micro::GetTensorData<int8_t>(output);
    for (int32_t n = 0; n < data.batches; ++n) {
        const dtmm_status status = dtmm_conv_s8(b, x + n * data.input_image, y + n * data.output_image, scratch);
        if (status != DTMM_OK) {
            MicroPrintf("DTMM_CONV_2D: dtmm_conv_s8 failed (%s)", dtmm_status_name(status));
            return kTfLiteError;
        }
    }
    return kTfLiteOk;
}

}  // namespace

TFLMRegistration* Register_DTMM_CONV_2D() {
    // Zero-initialized at load time and filled on first call: no static constructor, no guard variable.
    static TFLMRegistration registration;
    registration = tflite::micro::RegisterOp(Init, Prepare, Eval);
    return &registration;
}

}  // namespace dtmm
