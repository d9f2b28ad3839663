# cmake/check_layers.cmake — the layer rule of the library's headers (docs/architecture.md, "Layers").
#
#   cmake -DSOURCE_DIR=<repo> -P cmake/check_layers.cmake        (ctest: `layers`)
#
# Every header under gemma3/ belongs to one layer (the table below). A header may include headers
# of its own layer or a lower one, never a higher one; and a model-core header (L0-L2) includes no
# parser (JSON, SentencePiece protobuf, tokenizer.json, safetensors, image decoders, <stb/...>,
# <jpeglib.h>). The check reads each `#include "gemma3/..."` (and <gemma3/...>, and a quoted
# include relative to the header's own folder) plus the image-library system includes, reports
# every violation with file, line and both layers, and fails if there is any. A header the table
# does not assign is an error too. Plain CMake, no Python.

# ---- the table: layer, then the headers (globs: * within a folder, ** across folders) ----------
set(layer_names "types" "ops" "model core" "files and parsers" "session" "tool support")
set(layer_table "")
macro(layer n)
  foreach(p ${ARGN})
    list(APPEND layer_table "${n}|${p}")
  endforeach()
endmacro()

# L0 types: plain data, errors, byte order, checksums, UTF-8 rules, small file helpers.
layer(0 gemma3/error.hpp gemma3/config.hpp gemma3/tensor.hpp gemma3/quant.hpp
        gemma3/tokenizer_types.hpp gemma3/image_types.hpp
        gemma3/detail/endian.hpp gemma3/detail/crc32.hpp gemma3/detail/file_util.hpp
        gemma3/detail/config_fields.hpp gemma3/detail/utf8.hpp)
# L1 ops: the SIMD kernels (Highway) and threading.
layer(1 gemma3/ops/*)
# L2 model core: weight views, RoPE, KV cache, attention, the decoder, the vision tower, the sampler.
layer(2 gemma3/weights.hpp gemma3/rope.hpp gemma3/kv_cache.hpp gemma3/attention.hpp
        gemma3/decoder.hpp gemma3/vision.hpp gemma3/sampler.hpp)
# L3 files and parsers: the model file, the tokenizer, images, and the parsers behind them.
layer(3 gemma3/model_file*.hpp gemma3/model_writer.hpp gemma3/tokenizer.hpp gemma3/image.hpp
        gemma3/json.hpp gemma3/detail/mmap.hpp gemma3/detail/sentencepiece_model.hpp
        gemma3/detail/tokenizer_json.hpp gemma3/detail/tokenizer_tables.hpp
        gemma3/detail/image_formats.hpp gemma3/detail/image_jpeg.hpp gemma3/detail/image_resample.hpp)
# L4 session: the loaded model, chat template, prefill, the session, the umbrella header.
layer(4 gemma3/model.hpp gemma3/chat.hpp gemma3/prefill.hpp gemma3/session.hpp gemma3/gemma3.hpp)
# L5 tool support: Hugging Face checkpoint conversion (installed; used by tools, tests, bench).
layer(5 gemma3/convert/*)

# Parsers: no model-core header (L0-L2) includes one, directly.
set(parser_headers
  gemma3/json.hpp gemma3/detail/sentencepiece_model.hpp gemma3/detail/tokenizer_json.hpp
  gemma3/detail/tokenizer_tables.hpp gemma3/convert/safetensors.hpp
  gemma3/detail/image_formats.hpp gemma3/detail/image_jpeg.hpp gemma3/detail/image_resample.hpp)
set(parser_system_includes "stb/**" jpeglib.h jerror.h)
set(model_core_top 2)

# ---- helpers ---------------------------------------------------------------------------------------
function(glob_to_regex pattern out)
  string(REPLACE "." "\\." r "${pattern}")  # the table's globs use only letters, digits, _ - . / *
  string(REPLACE "+" "\\+" r "${r}")
  string(REPLACE "**" "@ANY@" r "${r}")
  string(REPLACE "*" "[^/]*" r "${r}")
  string(REPLACE "?" "[^/]" r "${r}")
  string(REPLACE "@ANY@" ".*" r "${r}")
  set(${out} "^${r}$" PARENT_SCOPE)
endfunction()

function(matches_any path out)  # out: TRUE when path matches one of the globs in ARGN
  foreach(p ${ARGN})
    glob_to_regex("${p}" re)
    if(path MATCHES "${re}")
      set(${out} TRUE PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} FALSE PARENT_SCOPE)
endfunction()

# layer_of(path out): the layer number, "" when unassigned, "ambiguous:<a>,<b>" when two differ.
function(layer_of path out)
  set(found "")
  foreach(entry ${layer_table})
    string(FIND "${entry}" "|" bar)
    string(SUBSTRING "${entry}" 0 ${bar} n)
    math(EXPR start "${bar} + 1")
    string(SUBSTRING "${entry}" ${start} -1 p)
    glob_to_regex("${p}" re)
    if(path MATCHES "${re}")
      if(found STREQUAL "")
        set(found ${n})
      elseif(NOT found STREQUAL n)
        set(found "ambiguous:${found},${n}")
      endif()
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(layer_label n out)
  list(GET layer_names ${n} name)
  set(${out} "L${n} ${name}" PARENT_SCOPE)
endfunction()

# ---- the check -------------------------------------------------------------------------------------
if(NOT SOURCE_DIR)
  get_filename_component(SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()
get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)
if(NOT IS_DIRECTORY "${SOURCE_DIR}/gemma3")
  message(FATAL_ERROR "check_layers: ${SOURCE_DIR}/gemma3 not found (pass -DSOURCE_DIR=<repository root>)")
endif()

file(GLOB_RECURSE headers RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/gemma3/*")
list(FILTER headers INCLUDE REGEX "\\.(hpp|h|hh|hxx|inl|ipp)$")
list(SORT headers)

# Layers of all headers first (an include's target needs its layer).
set(errors "")
foreach(h ${headers})
  layer_of("${h}" n)
  if(n STREQUAL "")
    list(APPEND errors "${h}: no layer: assign it a layer in cmake/check_layers.cmake")
  elseif(n MATCHES "^ambiguous:")
    list(APPEND errors "${h}: matched by two layers (${n}) in cmake/check_layers.cmake: make the table unambiguous")
    set(n "")
  endif()
  string(MAKE_C_IDENTIFIER "${h}" id)
  set(layer_${id} "${n}")
endforeach()

set(n_includes 0)   # every #include line read
set(n_checked 0)    # of which project headers or parser system headers, checked against the rules
set(include_re "^[ \t]*#[ \t]*include[ \t]*([<\"])([^\">]+)[\">]")
foreach(h ${headers})
  string(MAKE_C_IDENTIFIER "${h}" id)
  set(from "${layer_${id}}")
  get_filename_component(hdir "${h}" DIRECTORY)
  file(READ "${SOURCE_DIR}/${h}" text)
  # One list element per line: take list syntax out of the text first (only #include lines matter).
  string(REPLACE "\\" "/" text "${text}")
  string(REPLACE ";" "," text "${text}")
  string(REPLACE "[" "(" text "${text}")
  string(REPLACE "]" ")" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(lineno 0)
  foreach(line IN LISTS lines)
    math(EXPR lineno "${lineno} + 1")
    if(NOT line MATCHES "${include_re}")
      continue()
    endif()
    math(EXPR n_includes "${n_includes} + 1")
    set(kind "${CMAKE_MATCH_1}")
    set(inc "${CMAKE_MATCH_2}")
    set(target "")
    if(inc MATCHES "^gemma3/")
      set(target "${inc}")
    elseif(kind STREQUAL "\"" AND EXISTS "${SOURCE_DIR}/${hdir}/${inc}")
      get_filename_component(abs "${SOURCE_DIR}/${hdir}/${inc}" ABSOLUTE)
      file(RELATIVE_PATH target "${SOURCE_DIR}" "${abs}")
    endif()
    set(where "${h}:${lineno}")
    if(target STREQUAL "")  # a system header: only the parser rule applies
      matches_any("${inc}" is_parser ${parser_system_includes})
      if(is_parser)
        math(EXPR n_checked "${n_checked} + 1")
        if(NOT from STREQUAL "" AND from LESS_EQUAL model_core_top)
          layer_label(${from} fl)
          list(APPEND errors "${where}: ${h} (${fl}) includes the parser <${inc}>: model-core headers (L0-L2) include no parser")
        endif()
      endif()
      continue()
    endif()
    math(EXPR n_checked "${n_checked} + 1")
    if(NOT EXISTS "${SOURCE_DIR}/${target}")
      list(APPEND errors "${where}: includes ${target}, which does not exist")
      continue()
    endif()
    string(MAKE_C_IDENTIFIER "${target}" tid)
    set(to "${layer_${tid}}")
    if(from STREQUAL "" OR to STREQUAL "")
      continue()  # already reported as unassigned
    endif()
    layer_label(${from} fl)
    layer_label(${to} tl)
    if(to GREATER from)
      list(APPEND errors "${where}: ${h} (${fl}) includes ${target} (${tl}): an include may not go up a layer")
    endif()
    if(from LESS_EQUAL model_core_top)
      matches_any("${target}" is_parser ${parser_headers})
      if(is_parser)
        list(APPEND errors "${where}: ${h} (${fl}) includes the parser ${target} (${tl}): model-core headers (L0-L2) include no parser")
      endif()
    endif()
  endforeach()
endforeach()

foreach(entry ${layer_table})  # an entry that matches no header is stale (a note, not a failure)
  string(FIND "${entry}" "|" bar)
  math(EXPR start "${bar} + 1")
  string(SUBSTRING "${entry}" ${start} -1 p)
  glob_to_regex("${p}" re)
  set(hits ${headers})
  list(FILTER hits INCLUDE REGEX "${re}")
  if(NOT hits)
    message(STATUS "layers: note: ${p} (in the table) matches no header")
  endif()
endforeach()

list(LENGTH headers n_headers)
list(LENGTH errors n_errors)
set(report "")
foreach(e IN LISTS errors)
  string(APPEND report "  ${e}\n")
endforeach()
set(summary "layers: ${n_headers} headers checked, ${n_checked} includes checked (of ${n_includes} #include lines), ${n_errors} violation(s)")
if(n_errors GREATER 0)
  message("${report}")
  message(FATAL_ERROR "${summary}\n"
    "A header may include headers of its own layer or lower, never higher; model-core headers (L0-L2)"
    " include no parser. Layers and the rule: docs/architecture.md, \"Layers\"; the table: cmake/check_layers.cmake.")
endif()
message(STATUS "${summary}")
