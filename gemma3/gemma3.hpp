// gemma3/gemma3.hpp — the whole public API in one include.
//
//   #include <gemma3/gemma3.hpp>
//   gemma3::Model model("gemma-3-4b-it.gemma3");     // throws gemma3::Error
//   gemma3::Session chat(model);
//   chat.chat("Why is the sky blue?", [](const std::string& text, int) {
//     std::cout << text << std::flush;
//     return true;
//   });
//
// Public = everything in namespace gemma3 declared by the headers below (and
// gemma3::ops::ThreadContext). Internals live in namespace gemma3::detail and
// in gemma3/detail/ (file readers, JSON, converter) and may change without
// notice; the SIMD kernels in gemma3/ops/ are public but low level. The list,
// with what each header is for, is in docs/api.md.
//
// Every failure on bad input is a thrown gemma3::Error (gemma3/error.hpp).
// Link the CMake target gemma3::gemma3 (it brings Highway, OpenMP, and
// libjpeg and libstb, which image.hpp needs).
#pragma once

// Errors and configuration
#include "gemma3/error.hpp"
#include "gemma3/config.hpp"

// The embedder's API: a loaded model and a conversation with it
#include "gemma3/model.hpp"
#include "gemma3/session.hpp"

// Prefill as Session and gemma3-dump run it: image blocks encoded, chunked forward calls
#include "gemma3/prefill.hpp"

// Text: tokenizer and chat format
#include "gemma3/tokenizer_types.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/chat.hpp"

// Images: loading + preprocessing, the SigLIP encoder + projector
#include "gemma3/image.hpp"
#include "gemma3/vision.hpp"

// The learner's path: the decoder and its parts
#include "gemma3/decoder.hpp"
#include "gemma3/attention.hpp"
#include "gemma3/rope.hpp"
#include "gemma3/kv_cache.hpp"
#include "gemma3/sampler.hpp"

// The model file, weights and their storage types
#include "gemma3/model_file.hpp"
#include "gemma3/weights.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/quant.hpp"

// Threads for the lower-level calls (Decoder::forward, VisionEncoder::encode)
#include "gemma3/ops/threading.hpp"
