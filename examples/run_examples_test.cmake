# ctest driver: runs every example the way its header comment says, on the
# bundled tiny random checkpoint (converted here) and the real Gemma 3
# tokenizer, and checks what they print.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... [-DPYTHON=python3] -P run_examples_test.cmake
set(work "${BUILD_DIR}/examples-test")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

# run(VAR cmd...) : runs cmd, fails the test on a non-zero exit, stores stdout+stderr in VAR.
function(run var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  INPUT_FILE "${stdin_file}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(${var} "${out}${err}" PARENT_SCOPE)
endfunction()
function(expect text regex what)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${what}: expected /${regex}/ in:\n${text}")
  endif()
endfunction()
set(stdin_file /dev/null)

# The tiny random model (64 wide, 8 layers, vision 112²) as f32 and q4 files.
set(tiny "${SOURCE_DIR}/tests/data/tiny/model")
run(out "${BUILD_DIR}/gemma3-convert" "${tiny}" "${work}/tiny-f32.gemma3" --type f32)
run(out "${BUILD_DIR}/gemma3-convert" "${tiny}" "${work}/tiny-q4.gemma3" --type q4)

# minimal: one turn with an image, streamed (gibberish: the weights are random), then the
# figures.
run(out "${BUILD_DIR}/gemma3-example-minimal" "${work}/tiny-f32.gemma3"
    "${SOURCE_DIR}/tests/data/image/img0_photo_150x97.png" "What is in this picture?")
expect("${out}" "\\[1 image in [0-9.e-]+ s, [0-9]+ prompt tokens, [0-9]+ generated, [0-9.e+]+ tokens/s\\]" "minimal")
# a bad image is an error message and exit status 1, not a crash
execute_process(COMMAND "${BUILD_DIR}/gemma3-example-minimal" "${work}/tiny-f32.gemma3"
                "${SOURCE_DIR}/tests/data/image/truncated.png" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "error: .*truncated.png")
  message(FATAL_ERROR "minimal with a truncated image: exit ${rc}, ${err}")
endif()

# chat: three turns on stdin, /reset between the second and third. The second
# turn must not re-run the first (its prompt is only the new turn's tokens).
file(WRITE "${work}/chat.txt" "Name three rivers.\nWhich is the longest?\n/reset\nHello\n")
set(stdin_file "${work}/chat.txt")
run(out "${BUILD_DIR}/gemma3-example-chat" "${work}/tiny-f32.gemma3" --seed 7 --system "Be brief.")
set(stdin_file /dev/null)
string(REGEX MATCHALL "[0-9]+ prompt tokens, [0-9]+ generated" turns "${out}")
list(LENGTH turns n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "chat: expected 3 turns, got ${n}:\n${out}")
endif()
expect("${out}" "conversation forgotten" "chat /reset")

# tokenize: the real Gemma 3 tokenizer; expected ids from tests/data/tokenizer/chat_dev.jsonl
# (chat-dev-0, made with SentencePiece and HF, independent of this code).
run(out "${BUILD_DIR}/gemma3-example-tokenize" "${SOURCE_DIR}/tests/data/tokenizer/tokenizer.model"
    "Why is the sky blue?")
expect("${out}" "vocabulary: 262144 pieces, <bos> = 2, <eos> = 1" "tokenize vocabulary")
expect("${out}" "6 tokens:\n +11355 +\"Why\"\n +563 +\"▁is\"\n +506 +\"▁the\"\n +7217 +\"▁sky\"\n +3730 +\"▁blue\"\n +236881 +\"\\?\"" "tokenize ids")
expect("${out}" "decoded back: \"Why is the sky blue\\?\" \\(identical\\)" "tokenize decode")
expect("${out}" "chat prompt ids: 2 105 2364 107 11355 563 506 7217 3730 236881 106 107 105 4368 107\n"
       "tokenize chat ids")

# compare_backends: gemma3-dump of the f32 model as the reference, against
# (1) itself fed one token per forward call: must agree everywhere;
# (2) the q4 model as the "other backend": must be reported as diverging.
if(PYTHON)
  set(ids 2,105,300,107,600,601,602,603,106,107,105,400,107)  # < the tiny vocabulary (1024)
  set(dump "${BUILD_DIR}/gemma3-dump")
  set(script "${SOURCE_DIR}/examples/compare_backends/compare_dumps.py")
  run(out "${dump}" -m "${work}/tiny-f32.gemma3" --ids ${ids} --logits "${work}/ref_logits.npy"
      --hidden "${work}/ref_hidden.npy")
  run(out "${dump}" -m "${work}/tiny-f32.gemma3" --ids ${ids} --chunk 1
      --logits "${work}/chunk_logits.npy" --hidden "${work}/chunk_hidden.npy")
  run(out "${dump}" -m "${work}/tiny-q4.gemma3" --ids ${ids} --logits "${work}/q4_logits.npy"
      --hidden "${work}/q4_hidden.npy")
  run(same "${PYTHON}" "${script}" "${work}/ref_logits.npy" "${work}/chunk_logits.npy"
      "${work}/ref_hidden.npy" "${work}/chunk_hidden.npy")
  expect("${same}" "top-1 agreement 13/13 \\(100.0 %\\)" "compare: same model")
  expect("${same}" "first diverging layer: none" "compare: same model")
  expect("${same}" "max \\|diff\\| [0-9.]+e-0[5-9]" "compare: same model, f32 summation-order differences only")
  run(q4 "${PYTHON}" "${script}" "${work}/ref_logits.npy" "${work}/q4_logits.npy"
      "${work}/ref_hidden.npy" "${work}/q4_hidden.npy")
  expect("${q4}" "first diverging layer: (embed|layer [0-9]+)" "compare: q4 model")
  expect("${q4}" "<- differs" "compare: q4 model changes some top-1 ids")
  # --vocab: compare only the first ids (e.g. 262144, the ids llama.cpp keeps).
  run(hf "${PYTHON}" "${script}" "${work}/ref_logits.npy" "${work}/ref_logits.npy" --vocab 1000)
  expect("${hf}" "comparing ids 0..999" "compare: --vocab")
  message(STATUS "compare_dumps.py (same model):\n${same}")
else()
  message(STATUS "python3 not found: compare_dumps.py not run")
endif()
message(STATUS "examples ran on the tiny model and the real tokenizer")
