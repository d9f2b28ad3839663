// gemma3/error.hpp — the one way this library reports failure.
//
// Every public function that can fail on bad input (a file, a config value, a
// prompt) throws gemma3::Error with a message that names the thing and what is
// wrong with it. Nothing in the library aborts or asserts on input.
#pragma once

#include <stdexcept>
#include <string>

namespace gemma3 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace gemma3
