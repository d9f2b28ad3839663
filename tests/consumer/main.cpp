// Builds against the installed gemma3 package: includes the public headers
// and touches a little of each, so a missing install file fails the build.
#include <gemma3/config.hpp>
#include <gemma3/tensor.hpp>
#include <gemma3/error.hpp>
#include <cstdio>

int main() {
  gemma3::ModelConfig config;
  std::printf("consumer: %d layers, bf16(1.0)=0x%04x\n", config.text.num_hidden_layers,
              gemma3::f32_to_bf16(1.0f));
  return gemma3::f32_to_bf16(1.0f) == 0x3f80 ? 0 : 1;
}
