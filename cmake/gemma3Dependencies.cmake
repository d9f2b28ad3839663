# Finds what gemma3::gemma3 needs: Highway, OpenMP (optional), libjpeg and stb_image.
# Used by the build tree and by the installed gemma3Config.cmake alike.
include(CMakeFindDependencyMacro)
find_dependency(hwy)
find_package(OpenMP QUIET COMPONENTS CXX)
find_package(JPEG QUIET)  # libjpeg-turbo: JPEG decoding, as Pillow does it
if(NOT JPEG_FOUND)
  message(FATAL_ERROR "gemma3: libjpeg not found (Debian/Ubuntu: apt-get install libjpeg62-turbo-dev)")
endif()

if(NOT TARGET gemma3::stb)
  find_path(GEMMA3_STB_INCLUDE_DIR stb/stb_image.h)
  find_library(GEMMA3_STB_LIBRARY stb)
  if(NOT GEMMA3_STB_INCLUDE_DIR OR NOT GEMMA3_STB_LIBRARY)
    message(FATAL_ERROR "gemma3: stb_image not found (Debian/Ubuntu: apt-get install libstb-dev)")
  endif()
  add_library(gemma3::stb UNKNOWN IMPORTED)
  set_target_properties(gemma3::stb PROPERTIES
    IMPORTED_LOCATION "${GEMMA3_STB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${GEMMA3_STB_INCLUDE_DIR}")
endif()
