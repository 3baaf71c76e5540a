/*
 * dtmm_tflm.h - DTMM inside an unmodified TensorFlow Lite Micro (docs/tflm.md).
 *
 * A model converted by `dtmm convert` holds its pruned CONV_2Ds as the custom
 * op DTMM_CONV_2D (inputs: the int8 NHWC input and a UINT8 constant holding
 * one FWCS blob; one int8 output).  Register it once:
 *
 *   tflite::MicroMutableOpResolver<N> resolver;   // N counts this op too
 *   resolver.AddCustom("DTMM_CONV_2D", dtmm::Register_DTMM_CONV_2D());
 *
 * The model array must be 16-byte aligned (alignas(16)); Prepare says so when
 * it is not.  Compiled only where TFLM's headers are found (library.json's
 * pio_sources.py, CMakeLists.txt with TFLM_DIR).
 */
#ifndef DTMM_TFLM_H
#define DTMM_TFLM_H

#include "tensorflow/lite/micro/micro_common.h"

namespace dtmm {

/* The name a converted model gives the op (dtmm.formats.fwcs.CUSTOM_OP). */
constexpr const char kDtmmConv2dName[] = "DTMM_CONV_2D";

/* Init/Prepare/Eval of DTMM_CONV_2D for TFLM's MicroMutableOpResolver::AddCustom(). */
TFLMRegistration* Register_DTMM_CONV_2D();

}  // namespace dtmm

#endif  // DTMM_TFLM_H
