# libFuzzer targets for the Espressif core (included by tests/fuzz/CMakeLists.txt).
ttynet_fuzz_target(slip_fuzz slip_fuzz.cpp ttynet_esp_core)
ttynet_fuzz_target(sim_chip_fuzz sim_chip_fuzz.cpp ttynet_esp_core)
ttynet_fuzz_target(reset_sequence_fuzz reset_sequence_fuzz.cpp ttynet_esp_core)
ttynet_fuzz_target(esp_packet_fuzz esp_packet_fuzz.cpp ttynet_esp_core)
