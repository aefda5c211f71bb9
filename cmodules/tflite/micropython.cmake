# The tflite user C module (cmake-based ports): the binding and its registration, plus the engine's sources as engine/sources.txt lists
# them, the one list every builder reads (re-run cmake after changing it).
add_library(usermod_tflite INTERFACE)

file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/engine/sources.txt TFLITE_ENGINE_SOURCES)
list(TRANSFORM TFLITE_ENGINE_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/engine/)

target_sources(usermod_tflite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modtflite.c
    ${CMAKE_CURRENT_LIST_DIR}/tflite_builtin.c
    ${TFLITE_ENGINE_SOURCES}
)

target_include_directories(usermod_tflite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

# Float kernels must round each product and each sum as the reference kernels do (no fused multiply-add). On these
# sources only: an INTERFACE option of usermod_tflite would reach every file of the firmware that links it. (The
# port includes this file into its own directory, where its firmware target sees the source properties.)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/modtflite.c ${CMAKE_CURRENT_LIST_DIR}/tflite_builtin.c
    ${TFLITE_ENGINE_SOURCES}
    PROPERTIES COMPILE_OPTIONS -ffp-contract=off)

target_link_libraries(usermod INTERFACE usermod_tflite)
