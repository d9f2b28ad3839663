# ctest driver: install gemma3 from BUILD_DIR into a scratch prefix, then
# configure, build and run tests/consumer against it with find_package, and
# once more with add_subdirectory; then examples/minimal against the package.
set(work "${BUILD_DIR}/consumer-test")
file(REMOVE_RECURSE "${work}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${work}/prefix")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer" -B "${work}/pkg"
    -DCMAKE_PREFIX_PATH=${work}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${work}/pkg")
run("${work}/pkg/consumer")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer" -B "${work}/sub"
    -DCONSUMER_USE_SUBDIRECTORY=ON -DGEMMA3_SOURCE_DIR=${SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${work}/sub" --target consumer)
run("${work}/sub/consumer")
# The minimal embedding example, as a user builds it (examples/minimal/CMakeLists.txt).
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/minimal" -B "${work}/minimal"
    -DCMAKE_PREFIX_PATH=${work}/prefix)
run(${CMAKE_COMMAND} --build "${work}/minimal")
execute_process(COMMAND "${work}/minimal/minimal" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "usage: ")  # no model given: usage, exit 1
  message(FATAL_ERROR "examples/minimal built against the package did not run: ${rc} ${err}")
endif()
if(EXISTS "${BUILD_DIR}/gemma3-convert")  # and on the tiny random model: one streamed turn with an image
  run(${BUILD_DIR}/gemma3-convert "${SOURCE_DIR}/tests/data/tiny/model" "${work}/tiny.gemma3" --type bf16)
  run("${work}/minimal/minimal" "${work}/tiny.gemma3" "${SOURCE_DIR}/tests/data/image/img1_pattern_64x64.png" "Hi")
endif()
message(STATUS "consumer built and ran against the installed package and via add_subdirectory; examples/minimal built against the package")
