# The tflite user C module (cmake-based ports): the binding plus the engine's sources as engine/sources.txt lists
# them, the one list every builder reads (re-run cmake after changing it).
add_library(usermod_tflite INTERFACE)

file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/engine/sources.txt TFLITE_ENGINE_SOURCES)
list(TRANSFORM TFLITE_ENGINE_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/engine/)

target_sources(usermod_tflite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modtflite.c
    ${TFLITE_ENGINE_SOURCES}
)

target_include_directories(usermod_tflite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

# Float kernels must round each product and each sum as the reference kernels do (no fused multiply-add).
target_compile_options(usermod_tflite INTERFACE -ffp-contract=off)

target_link_libraries(usermod INTERFACE usermod_tflite)
